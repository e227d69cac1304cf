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

    def tmux(self, *args: str, check: bool = True, timeout: float = 10) -> subprocess.CompletedProcess[str]:
        return subprocess.run([TMUX, "-L", self.socket, *args], capture_output=True, text=True, check=check, timeout=timeout)  # type: ignore[list-item]

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


def test_mlc_console_in_tmux(live_worker, tmp_path):
    term = Terminal(f"mlc-test-{os.getpid()}")
    status_file = tmp_path / "console-exit-status"
    command = f"{shlex.quote(str(MLC))} console --url {live_worker.url} --token-file {shlex.quote(str(live_worker.token_file))}"
    # When the console ends, the pane's shell writes its exit status and signals a tmux channel:
    # the test waits on that signal instead of polling the pane.
    on_exit = f"echo $? > {shlex.quote(str(status_file))}; {shlex.quote(str(TMUX))} -L {term.socket} wait-for -S console-exited"
    try:
        term.tmux("new-session", "-d", "-s", "console", "-x", "80", "-y", "24", f"env TERM=xterm-256color COLORTERM= {command}; {on_exit}")
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
        try:
            term.tmux("wait-for", "console-exited", timeout=30)  # a channel signalled before the wait is not missed
        except subprocess.TimeoutExpired:
            raise AssertionError(f"mlc console did not exit on q:\n{term.screen()}") from None
        assert status_file.read_text(encoding="utf-8").strip() == "0"
    finally:
        term.tmux("kill-server", check=False)
