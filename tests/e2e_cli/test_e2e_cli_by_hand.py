"""The commands an administrator runs by hand, each as a real process against the simulators:
`mlc sim concur` + `mlc concur connect|subscribe|subscriptions|unsubscribe`, and `mlc worker` +
`mlc sim quickbooks new` + `mlc sim webconnector` (issue 3's "works by hand against a running worker")."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
MLC = [sys.executable, "-m", "mlc.cli"]
CLIENT = {"client_id": "cli-client", "client_secret": "cli-secret-123456", "uuid": "5bdf71c5-1f82-4b4a-ad67-140ac6aaf75f", "request_token": "cli-request-token"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run(*args: str, config: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*MLC, "--config", str(config), *args], cwd=ROOT, input=stdin, capture_output=True, text=True, timeout=60)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.CTRL_BREAK_EVENT if os.name == "nt" else signal.SIGINT)
    try:
        process.communicate(timeout=10)  # also closes the pipes
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate(timeout=10)


def write_config(tmp_path: Path, worker_port: int, concur_port: int) -> Path:
    text = (ROOT / "mlc.toml").read_text(encoding="utf-8")
    text = text.replace('listen = "127.0.0.1:8750"', f'listen = "127.0.0.1:{worker_port}"')
    text = text.replace('public_url = "http://localhost:8750"', f'public_url = "http://localhost:{worker_port}"')
    text = text.replace('base_url = "http://127.0.0.1:8751"', f'base_url = "http://127.0.0.1:{concur_port}"')
    text = text.replace('client_id = "demo-client"', f'client_id = "{CLIENT["client_id"]}"')
    text = text.replace('client_secret = "demo-client-secret-not-for-production"', f'client_secret = "{CLIENT["client_secret"]}"')
    text = text.replace('request_token = "demo-request-token"', f'request_token = "{CLIENT["request_token"]}"')
    text = text.replace('webhook_public_key = "var/demo/concur-webhook.pem"', 'webhook_public_key = "concur.pem"')
    path = tmp_path / "mlc.toml"
    path.write_text(text, encoding="utf-8")
    return path


def start_concur(tmp_path: Path, port: int) -> subprocess.Popen:
    process = subprocess.Popen(
        [
            *MLC,
            "sim",
            "concur",
            "--port",
            str(port),
            "--reports",
            "3",
            "--invoices",
            "1",
            "--company-uuid",
            CLIENT["uuid"],
            "--client-id",
            CLIENT["client_id"],
            "--client-secret",
            CLIENT["client_secret"],
            "--request-token",
            CLIENT["request_token"],
            "--key-out",
            str(tmp_path / "concur.pem"),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        creationflags=subprocess.CREATE_NEW_PROCESS_GROUP if os.name == "nt" else 0,
    )
    first = process.stdout.readline()  # the simulator prints its URLs once it listens
    assert json.loads(first)["primary"].endswith(f":{port}"), first
    return process


def test_concur_commands_against_the_simulator(tmp_path: Path) -> None:
    concur_port = free_port()
    config = write_config(tmp_path, free_port(), concur_port)
    concur = start_concur(tmp_path, concur_port)
    try:
        connected = run("concur", "connect", "demo", config=config)
        assert connected.returncode == 0, connected.stderr
        assert "connected demo" in connected.stdout
        subscribed = run("concur", "subscribe", "demo", config=config)
        assert subscribed.returncode == 0, subscribed.stderr
        ids = [entry["id"] for entry in json.loads(subscribed.stdout)]
        assert len(ids) == 2
        listed = run("concur", "subscriptions", "demo", config=config)
        assert listed.returncode == 0, listed.stderr
        subscriptions = json.loads(listed.stdout)
        assert {s["id"] for s in subscriptions} == set(ids)
        assert all(s["webHookConfig"]["endpoint"].endswith("/webhooks/concur") for s in subscriptions)
        removed = run("concur", "unsubscribe", "demo", ids[0], config=config)
        assert removed.returncode == 0, removed.stderr
        after = json.loads(run("concur", "subscriptions", "demo", config=config).stdout)
        assert {s["id"] for s in after} == {ids[1]}
        # Secrets stay out of what the commands print.
        for result in (connected, subscribed, listed, removed):
            assert CLIENT["client_secret"] not in result.stdout + result.stderr
            assert CLIENT["request_token"] not in result.stdout + result.stderr
    finally:
        stop(concur)


def test_concur_connect_with_a_bad_request_token_says_why(tmp_path: Path) -> None:
    concur_port = free_port()
    config = write_config(tmp_path, free_port(), concur_port)
    config.write_text(config.read_text(encoding="utf-8").replace(CLIENT["request_token"], "wrong-token"), encoding="utf-8")
    concur = start_concur(tmp_path, concur_port)
    try:
        result = run("concur", "connect", "demo", config=config)
    finally:
        stop(concur)
    assert result.returncode == 1
    assert result.stderr.startswith("mlc concur connect: ") and "Traceback" not in result.stderr
    assert "wrong-token" not in result.stderr


def test_web_connector_simulator_by_hand_against_a_running_worker(tmp_path: Path) -> None:
    worker_port = free_port()
    concur_port = free_port()
    config = write_config(tmp_path, worker_port, concur_port)
    concur = start_concur(tmp_path, concur_port)
    worker = subprocess.Popen(
        [*MLC, "--config", str(config), "worker"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        creationflags=subprocess.CREATE_NEW_PROCESS_GROUP if os.name == "nt" else 0,
    )
    company_file = tmp_path / "demo.qbsim"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{worker_port}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "worker did not start"
            time.sleep(0.1)
        created = run(
            "sim",
            "quickbooks",
            "new",
            str(company_file),
            "--file-id",
            "{FAF95B0C-891A-4578-9057-7CAF0389A2AA}",
            "--owner-id",
            "{A73CF5ED-0325-46C2-9A26-DB13B626820D}",
            config=config,
        )
        assert created.returncode == 0, created.stderr
        session = run(
            "sim",
            "webconnector",
            "--url",
            f"http://127.0.0.1:{worker_port}/qbwc",
            "--company-file",
            str(company_file),
            "--username",
            "demo-sync",
            "--password",
            "demo-sync-password",
            "--once",
            config=config,
        )
        assert session.returncode == 0, session.stdout + session.stderr
        assert "closeConnection" in session.stdout or "ended_by=closeConnection" in session.stdout, session.stdout
        wrong = run(
            "sim",
            "webconnector",
            "--url",
            f"http://127.0.0.1:{worker_port}/qbwc",
            "--company-file",
            str(company_file),
            "--username",
            "demo-sync",
            "--password",
            "not-the-password",
            "--once",
            config=config,
        )
        assert "nvu" in wrong.stdout
        shown = run("sim", "quickbooks", "show", str(company_file), config=config)
        assert shown.returncode == 0 and shown.stdout.startswith("Company: Demo Consulting LLC")
    finally:
        stop(worker)
        stop(concur)
