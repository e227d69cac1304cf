"""Start and stop ``tests.helpers.serve_seeded`` (a seeded worker process) for console tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


@dataclass
class LiveWorker:
    url: str
    directory: Path
    process: subprocess.Popen

    @property
    def token_file(self) -> Path:
        return self.directory / "operator.token"

    def stop(self, kill: bool = False) -> None:
        if self.process.poll() is not None:
            return
        if kill:
            self.process.kill()
        else:
            assert self.process.stdin is not None
            self.process.stdin.close()  # the helper's signal to shut down gracefully
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)
        finally:
            for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
                if stream is not None and not stream.closed:
                    stream.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_worker(directory: Path, port: int = 0, bulk: int = 0, timeout: float = 30.0, hostile: bool = False) -> LiveWorker:
    """Start the seeded worker and wait for its ``URL ...`` line."""
    directory.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    with open(directory / "worker-stderr.log", "w", encoding="utf-8") as errors:  # the child keeps its own copy
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.helpers.serve_seeded", str(directory), str(port), str(bulk)] + (["hostile"] if hostile else []),
            cwd=REPO,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
        )
    found: list[str] = []

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            if line.startswith("URL "):
                found.append(line.split()[1])
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout)
    if not found:
        worker = LiveWorker("", directory, process)
        worker.stop(kill=True)
        raise RuntimeError(f"seeded worker did not start: {(directory / 'worker-stderr.log').read_text()[-2000:]}")
    return LiveWorker(found[0], directory, process)
