"""`mlc console` in a real terminal (tmux) against a live worker: keys in, screen text out.

Needs tmux (CI: `apt-get install -y tmux`); skipped with that reason when it is missing.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

TMUX = shutil.which("tmux")
MLC = Path(sys.executable).with_name("mlc.exe" if os.name == "nt" else "mlc")

pytestmark = [
    pytest.mark.skipif(TMUX is None, reason="tmux is not installed (apt-get install -y tmux)"),
    pytest.mark.skipif(not MLC.exists(), reason=f"the mlc entry point is not installed beside {sys.executable}"),
]


class Terminal:
    def __init__(self, socket: str) -> None:
        self.socket = socket

    def tmux(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run([TMUX, "-L", self.socket, *args], capture_output=True, text=True, check=check, timeout=10)  # type: ignore[list-item]

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "console").stdout

    def keys(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", "console", *keys)

    def escape(self) -> None:
        # A lone ESC: wait before the next key, or the terminal parser reads ESC+key as Alt+key.
        self.keys("Escape")
        time.sleep(0.5)

    def wait_for(self, *texts: str, timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if all(t in screen for t in texts):
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"{texts} not on screen after {timeout} s:\n{screen}")
            time.sleep(0.2)


def test_mlc_console_in_tmux(live_worker):
    term = Terminal(f"mlc-test-{os.getpid()}")
    command = f"{shlex.quote(str(MLC))} console --url {live_worker.url} --token-file {shlex.quote(str(live_worker.token_file))}"
    env_prefix = "env TERM=xterm-256color COLORTERM= "
    try:
        term.tmux("new-session", "-d", "-s", "console", "-x", "80", "-y", "24", env_prefix + command)
        term.tmux("set-option", "-t", "console", "remain-on-exit", "on")
        screen = term.wait_for("Acme Consulting (acme)", "NEEDS RECONNECT", "connected to")
        assert "Globex Ltd (globex)" in screen
        term.keys("2")
        screen = term.wait_for("RPT-1002", "Pending offline")
        assert "queued" in screen
        term.keys("?")
        term.wait_for("Keys", "Hold", "Release")
        term.escape()
        term.wait_for("Pending offline")
        term.keys("/")
        term.keys("-l", "Henry")
        term.keys("Enter")
        screen = term.wait_for("search “Henry”")
        assert "RPT-3002" in screen and "RPT-1002" not in screen
        term.keys("Enter")
        term.wait_for("Lines", "Travel:Airfare")
        term.escape()
        term.wait_for("Pending offline")
        term.keys("q")
        deadline = time.monotonic() + 15
        while term.tmux("display-message", "-p", "-t", "console", "#{pane_dead}").stdout.strip() != "1":
            assert time.monotonic() < deadline, "mlc console did not exit on q"
            time.sleep(0.2)
        # tmux fills in the exit status a moment after it marks the pane dead.
        status = ""
        while not status and time.monotonic() < deadline:
            status = term.tmux("display-message", "-p", "-t", "console", "#{pane_dead_status}").stdout.strip()
            if not status:
                time.sleep(0.1)
        assert status == "0"
    finally:
        term.tmux("kill-server", check=False)
