import asyncio, sys, tempfile, subprocess, shutil
from pathlib import Path
from bench import scale
from bench.intake import free_port
from mlc import harness
from shared.config import load_config
from shared.tokens import read_tokens
from sim.concur.server import CompanyParams, ConcurSim
from worker.store.db import Store
run_dir = Path(tempfile.mkdtemp())
config = load_config(scale.REPO / "mlc.toml")
port = free_port()
ConcurSim(7, [CompanyParams(id="demo", uuid="u", client_id="c", client_secret="x", request_token="x", reports=0, invoices=0)]).write_public_key(run_dir / "concur-webhook.pem")
run_config = harness.write_run_config(config, run_dir, "http://127.0.0.1:9", port)
Store.in_dir(run_dir).close()
scale.seed(run_dir / "mlc.sqlite3", int(sys.argv[1]))
url = f"http://127.0.0.1:{port}"
worker = subprocess.Popen([sys.executable, "-m", "mlc.cli", "--config", str(run_config.path), "worker"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
try:
    scale._wait_healthy(url)
    token = read_tokens(run_dir / "operator.token")[0].token
    for i in range(int(sys.argv[2]) if len(sys.argv) > 2 else 4):
        print(round(asyncio.run(scale.console_paint(url, token)), 3))
    if len(sys.argv) > 3:
        from pyinstrument import Profiler
        p = Profiler(interval=0.0005, async_mode="disabled")
        p.start()
        print(round(asyncio.run(scale.console_paint(url, token)), 3))
        p.stop()
        print(p.output_text(unicode=False, color=False, show_all=True))
finally:
    worker.terminate(); worker.wait(); shutil.rmtree(run_dir, ignore_errors=True)
