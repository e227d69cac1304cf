"""Reproducible benchmarks: ``python -m bench [drain|intake|scale|cpu] [--quick]``.

Each figure is printed beside a baseline measured in the same run, because the machines these run on
are noisy; see ``bench/RESULTS.md`` for the numbers and the commands that produced them."""
