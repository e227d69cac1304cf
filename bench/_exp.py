import sys, trio, tempfile, shutil
from pathlib import Path
from bench import intake
from bench.common import percentile, median
n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
tmp = Path(tempfile.mkdtemp())
try:
    r = trio.run(intake._intake, tmp / "i", n)
finally:
    shutil.rmtree(tmp, ignore_errors=True)
for b, w in zip(r["bare"], r["worker"]):
    print(f"bare {intake._rate(b):.0f}/s cpu {b.get('cpu_ms',0):.3f}  worker {intake._rate(w):.0f}/s cpu {w.get('cpu_ms',0):.3f} main {w.get('main_cpu_ms',0):.3f} ratio {intake._rate(w)/intake._rate(b):.2f} p99 {percentile(w['latencies_ms'],99):.1f}")
p = r["paced"]; bp = r["bare_paced"]
print(f"paced p50 {median(p['latencies_ms']):.1f} p99 {percentile(p['latencies_ms'],99):.1f} cpu {p.get('cpu_ms',0):.3f} main {p.get('main_cpu_ms',0):.3f}; bare paced p99 {percentile(bp['latencies_ms'],99):.1f}")
