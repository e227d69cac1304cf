"""Shared pieces for the Concur tests: a running simulator plus a real ConcurClient over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import trio

from sim.concur.server import PRIMARY, CompanyParams, ConcurSim
from worker.concur.client import CompanyCredentials, ConcurClient, RetryPolicy
from worker.concur.tokens import MemoryTokenStore

REFERENCE = Path(__file__).resolve().parents[2] / ".." / "shared" / "reference" / "concur"

# Tiny waits so every failure mode runs in milliseconds; the logic is the production logic.
FAST = RetryPolicy(max_attempts=5, backoff_base=0.005, backoff_max=0.02, retry_after_max=0.5, unavailable_wait=0.02, timeout=2.0, refresh_margin=5.0)
# Short waits, and enough attempts that a call outlasts a run of 429s (each retry still has an end).
PATIENT = RetryPolicy(max_attempts=10, backoff_base=0.02, backoff_max=0.2, retry_after_max=0.5, unavailable_wait=0.02, timeout=5.0, refresh_margin=5.0)


def reference(*parts: str) -> Path:
    path = REFERENCE.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"Concur reference fixture {path} is absent (needs ../shared/reference beside the repo)")
    return path


def company_params(company: str = "acme", **kwargs) -> CompanyParams:
    defaults = dict(
        id=company,
        uuid=f"1c3564d9-92bd-495a-a8c8-{abs(hash(company)) % 10**12:012d}",
        client_id=f"client-{company}",
        client_secret=f"secret-{company}-s3cr3t",
        request_token=f"reqtok-{company}-s3cr3t",
    )
    defaults.update(kwargs)
    return CompanyParams(**defaults)


@dataclass
class Env:
    sim: ConcurSim
    client: ConcurClient
    store: MemoryTokenStore
    nursery: trio.Nursery

    def creds(self, company: str) -> CompanyCredentials:
        return self.client.companies[company]


@asynccontextmanager
async def running(companies: list[CompanyParams] | None = None, *, policy: RetryPolicy = FAST, seed: int = 7, **sim_kwargs) -> AsyncIterator[Env]:
    companies = companies or [company_params()]
    async with trio.open_nursery() as nursery:
        sim = ConcurSim(seed, companies, **sim_kwargs)
        await sim.serve(nursery)
        creds = [CompanyCredentials(c.id, sim.urls[PRIMARY], c.client_id, c.client_secret, c.uuid, c.request_token) for c in companies]
        client = ConcurClient(creds, MemoryTokenStore(), policy=policy)
        try:
            yield Env(sim, client, client.tokens, nursery)  # type: ignore[arg-type]
        finally:
            await client.aclose()
            nursery.cancel_scope.cancel()


QBWC = """
[companies.qbwc]
username = "acme-sync"
password_hash = "$argon2id$v=19$m=65536,t=3,p=4$EFmZ4XO7ywSTiYyHiPQ9xA$VQLDIE1HC99TOh4Ia/nQaQcSAtdSkLnoqTsPGRgtd6c"
file_id = "{FAF95B0C-891A-4578-9057-7CAF0389A2A1}"
owner_id = "{A73CF5ED-0325-46C2-9A26-DB13B6268201}"
"""


def write_config(directory: Path, sim, params, concur_extra: str = "") -> Path:
    """A worker configuration for one company served by ``sim`` (``concur_extra``: more [companies.concur] lines)."""
    sim.write_public_key(directory / "concur.pem")
    (directory / "operator.token").write_text("admin admin-token-0123456789abcdef\n", encoding="utf-8")
    text = (
        f"""[worker]
listen = "127.0.0.1:0"
data_dir = "var"
log_level = "warning"

[operator]
token_file = "operator.token"

[[companies]]
id = "{params.id}"
name = "Acme"

[companies.concur]
base_url = "{sim.base_url}"
client_id = "{params.client_id}"
client_secret = "{params.client_secret}"
company_uuid = "{params.uuid}"
request_token = "{params.request_token}"
webhook_public_key = "concur.pem"
sweep_interval_s = 0.3
"""
        + concur_extra
        + QBWC
    )
    path = directory / "mlc.toml"
    path.write_text(text, encoding="utf-8")
    return path


def fetched_counts(conn):
    """(kind, Concur id) -> (amount, times fetched) of the documents of company acme."""
    rows = conn.execute(
        """SELECT d.kind, d.concur_id, d.amount,
                  (SELECT COUNT(*) FROM audit a WHERE a.document_id = d.id AND a.action = 'fetched') AS fetches
           FROM documents d WHERE d.company = 'acme'"""
    ).fetchall()
    return {(r["kind"], r["concur_id"]): (r["amount"], r["fetches"]) for r in rows}


@pytest.fixture
def concur_env():
    """``async with concur_env(...) as env:`` — simulator on 127.0.0.1 (two data centres) + client."""
    return running
