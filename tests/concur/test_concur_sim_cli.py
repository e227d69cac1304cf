"""`concur` simulator command: starts, prints its URLs, writes the public key, answers OAuth."""

import json
import subprocess
import sys

import httpx
import pytest
from click.testing import CliRunner

from sim.concur.cli import concur
from worker.concur.webhooks import load_public_keys


def test_help_lists_the_options():
    result = CliRunner().invoke(concur, ["--help"])
    assert result.exit_code == 0
    for option in ("--host", "--port", "--seed", "--reports", "--invoices", "--webhook-url", "--key-out", "--latency-ms", "--max-in-flight"):
        assert option in result.output


def test_runs_standalone(tmp_path):
    key = tmp_path / "concur.pem"
    process = subprocess.Popen(
        [sys.executable, "-m", "sim.concur.cli", "--port", "0", "--reports", "3", "--invoices", "1", "--key-out", str(key)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline()
        if not line:
            pytest.fail(process.stderr.read())
        info = json.loads(line)
        assert load_public_keys([key.read_bytes()])
        answer = httpx.post(
            info["primary"] + "/oauth2/v0/token",
            data={
                "client_id": "sim-client",
                "client_secret": "sim-secret",
                "grant_type": "password",
                "username": info["company_uuid"],
                "password": "sim-request-token",
                "credtype": "authtoken",
            },
            timeout=5,
        )
        assert answer.status_code == 200 and answer.json()["geolocation"] == info["primary"]
    finally:
        process.terminate()
        process.communicate(timeout=10)
