import sys, trio, tempfile, shutil
from pathlib import Path
from bench import intake
from bench.common import percentile, median
tmp = Path(tempfile.mkdtemp())
try:
    d = trio.run(intake._during_drain, tmp / "d", int(sys.argv[1]), int(sys.argv[2]))
finally:
    shutil.rmtree(tmp, ignore_errors=True)
p = d["paced"]
print(f"drain paced p50 {median(p['latencies_ms']):.1f} p99 {percentile(p['latencies_ms'],99):.1f} cpu {p.get('cpu_ms',0):.3f} main {p.get('main_cpu_ms',0):.3f} overlap {d['overlap']:.2f} drain {d['drain']}")
