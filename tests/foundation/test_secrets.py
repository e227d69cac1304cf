"""No secret of the config (Concur client secret and request token, the Web Connector password,
the operator token, Concur's access and refresh tokens) appears in logs, API answers or error pages,
even at debug level after a full run through the simulators."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import trio

from mlc import harness
from shared.config import load_config
from shared.tokens import read_tokens

ROOT = Path(__file__).resolve().parents[2]
QBWC_PASSWORD = "qbwc-pass-Zr7Kq9wLm2"


def secret_config(tmp_path: Path) -> Path:
    text = (ROOT / "mlc.toml").read_text(encoding="utf-8")
    text = text.replace('log_level = "info"', 'log_level = "debug"')
    text = text.replace('client_secret = "demo-client-secret-not-for-production"', 'client_secret = "client-secret-Xy81Lq0PzVn3"')
    text = text.replace('request_token = "demo-request-token"', 'request_token_env = "MLC_TEST_REQUEST_TOKEN"')
    start = text.index("password_hash = ")
    text = text[:start] + 'password_env = "MLC_TEST_QBWC_PASSWORD"' + text[text.index("\n", start) :]
    path = tmp_path / "base.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.trio
async def test_no_secret_in_logs_or_answers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLC_TEST_REQUEST_TOKEN", "request-token-Qw93Ld7Hs1")
    monkeypatch.setenv("MLC_TEST_QBWC_PASSWORD", QBWC_PASSWORD)
    config = load_config(secret_config(tmp_path))
    run = tmp_path / "run"
    answers: list[str] = []
    async with trio.open_nursery() as nursery:
        h = await harness.start(nursery, config, run, reports=4, invoices=2, worker_port=0, concur_port=0, password=QBWC_PASSWORD)
        expected = harness.approve_everything(h)
        await harness.deliver(h)
        await harness.drain(h, expected=expected, timeout_s=60)
        operator = read_tokens(h.config.operator.token_file)[0].token
        concur_tokens = await h.worker.ctx.store.run(lambda conn: conn.execute("SELECT access_token, refresh_token FROM concur_tokens").fetchone())
        async with httpx.AsyncClient(base_url=h.worker.url) as client:
            bearer = {"Authorization": f"Bearer {operator}"}
            for path in ("/healthz", "/metrics", "/api/v1/summary", "/api/v1/documents?limit=50", "/api/v1/audit?limit=200", "/api/v1/documents/1"):
                answers.append((await client.get(path, headers=bearer)).text)
            answers.append((await client.get("/api/v1/summary", headers={"Authorization": f"Bearer {operator}x"})).text)
            answers.append((await client.post("/webhooks/concur", content=b"{not json", headers={"Concur-Signature": "nope"})).text)
            answers.append((await client.post("/qbwc", content=b"<garbage")).text)
        await harness.stop_worker(h)
        nursery.cancel_scope.cancel()
    secrets = {
        "Concur client secret": "client-secret-Xy81Lq0PzVn3",
        "Concur request token": "request-token-Qw93Ld7Hs1",
        "Web Connector password": QBWC_PASSWORD,
        "operator token": operator,
        "Concur access token": concur_tokens["access_token"],
        "Concur refresh token": concur_tokens["refresh_token"],
    }
    logs = "\n".join(p.read_text(encoding="utf-8") for p in (run / "logs").glob("*"))
    assert len(logs) > 200  # debug logging did write something to search
    for name, value in secrets.items():
        assert value and len(value) >= 8, name
        assert value not in logs, f"{name} found in the log"
        for answer in answers:
            assert value not in answer, f"{name} found in an HTTP answer"
