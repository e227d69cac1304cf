"""``mlc worker`` as a real process: health, metrics, token file, HTTPS, graceful stop."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import signal
import socket
import ssl
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

ROOT = Path(__file__).resolve().parents[2]
MLC = [sys.executable, "-m", "mlc.cli"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_config(tmp_path: Path, port: int, extra_worker: str = "") -> Path:
    text = (ROOT / "mlc.toml").read_text(encoding="utf-8")
    text = text.replace('listen = "127.0.0.1:8750"', f'listen = "127.0.0.1:{port}"{extra_worker}')
    # No Concur to talk to in these tests: a base URL nothing listens on keeps the jobs quiet.
    text = text.replace('base_url = "http://127.0.0.1:8751"', f'base_url = "http://127.0.0.1:{free_port()}"')
    path = tmp_path / "mlc.toml"
    path.write_text(text, encoding="utf-8")
    return path


def start_worker(config: Path) -> subprocess.Popen:
    flags = subprocess.CREATE_NEW_PROCESS_GROUP if os.name == "nt" else 0
    return subprocess.Popen([*MLC, "--config", str(config), "worker"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, creationflags=flags)


def wait_healthy(url: str, verify: bool | ssl.SSLContext = True, timeout: float = 20.0) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return httpx.get(url + "/healthz", verify=verify, timeout=2)
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def stop(process: subprocess.Popen) -> tuple[int, str]:
    process.send_signal(signal.CTRL_BREAK_EVENT if os.name == "nt" else signal.SIGTERM)
    output, _ = process.communicate(timeout=20)
    return process.returncode, output.decode("utf-8", "replace")


def test_worker_serves_health_and_metrics_and_stops_gracefully(tmp_path: Path) -> None:
    port = free_port()
    config = make_config(tmp_path, port)
    process = start_worker(config)
    try:
        health = wait_healthy(f"http://127.0.0.1:{port}")
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
        support = httpx.get(f"http://127.0.0.1:{port}/support", timeout=5)
        missing = httpx.get(f"http://127.0.0.1:{port}/no/such/path", timeout=5)
    finally:
        code, output = stop(process)
    assert health.status_code == 200
    body = health.json()
    assert body["status"] == "ok" and body["companies"][0]["id"] == "demo"
    assert metrics.status_code == 200 and "mlc_qbwc_calls" in metrics.text
    assert "text/html" in support.headers["content-type"] and "Web Connector" in support.text
    assert missing.status_code == 404 and missing.json()["error"]
    assert code == 0, output
    assert "worker stopped" in output
    token_file = tmp_path / "var" / "operator.token"
    assert token_file.exists()
    if os.name != "nt":
        assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    log_lines = (tmp_path / "var" / "logs" / "worker.jsonl").read_text(encoding="utf-8").splitlines()
    assert any('"worker listening on' in line for line in log_lines)


def self_signed(tmp_path: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return cert_path, key_path


def test_worker_serves_https_when_a_certificate_is_configured(tmp_path: Path) -> None:
    port = free_port()
    cert, key = self_signed(tmp_path)
    config = make_config(tmp_path, port, f'\ntls_certfile = "{cert.name}"\ntls_keyfile = "{key.name}"')
    process = start_worker(config)
    try:
        health = wait_healthy(f"https://localhost:{port}", verify=ssl.create_default_context(cafile=str(cert)))
    finally:
        code, output = stop(process)
    assert health.status_code == 200 and health.url.scheme == "https"
    assert code == 0, output


def test_a_newer_database_stops_the_worker_with_a_clear_message(tmp_path: Path) -> None:
    import sqlite3
    from contextlib import closing

    from worker.store.db import Store, latest_version

    port = free_port()
    config = make_config(tmp_path, port)
    Store.in_dir(tmp_path / "var").close()
    with closing(sqlite3.connect(tmp_path / "var" / "mlc.sqlite3")) as conn:
        conn.execute(f"PRAGMA user_version = {latest_version() + 3}")
    result = subprocess.run([*MLC, "--config", str(config), "worker"], cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert "newer than this mlc supports" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.fixture(autouse=True)
def _no_leftovers(tmp_path: Path):
    yield
    shutil.rmtree(tmp_path / "var", ignore_errors=True)
