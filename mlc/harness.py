"""The whole product on loopback: simulated Concur, the real worker, a simulated QuickBooks company
file driven by the simulated Web Connector. ``mlc demo``, the end-to-end tests and the benchmarks
all run through this one harness, so what the demo shows is what the tests prove.
"""

from __future__ import annotations

import json
import os
import sqlite3
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

import tomli_w
import trio

from shared.config import Config, load_config
from sim.concur.server import CompanyParams, ConcurSim
from sim.quickbooks.engine import CompanyFile
from sim.quickbooks.latency import LatencyModel, SimClock
from sim.quickbooks.seed import seed_company
from sim.webconnector.client import SessionReport, run_session
from sim.webconnector.knobs import FaultKnobs
from worker.main import RunningWorker, serve_worker
from worker.store import duplicates as duplicate_records

DEMO_PASSWORD = "demo-sync-password"  # the password whose hash the shipped mlc.toml holds
# ``mlc demo --accounts-by-code``: the simulated Concur tenant's allocation account codes
# (sim/concur/data.py ACCOUNT_CODES, COST_CENTRE_ACCOUNT_CODES, INVOICE_ACCOUNT_CODES) -> the
# account numbers of the simulated QuickBooks chart (sim/quickbooks/seed.py), as a firm whose
# Concur codes differ from its QuickBooks numbers writes them under [companies.mapping.account_codes].
DEMO_ACCOUNT_CODES = {
    "6110": "62410",
    "6120": "62420",
    "6121": "62420",
    "6130": "62430",
    "6140": "62440",
    "6150": "62440",
    "6210": "64900",
    "6430": "64300",
    "6510": "62410",
    "6520": "62420",
    "6300": "66700",
    "6310": "66900",
    "6320": "68100",
}
FINAL_STATES = ("posted", "held", "failed", "skipped")
# ``[store] url`` of a run when its caller names none: "" keeps the config's own (SQLite in the run
# directory by default), or a function giving the URL when a run starts (the test suite's
# ``--store=postgres``: a fresh database, made only for tests that start a run).
RUN_STORE_URL: str | Callable[[], str] = ""


@dataclass
class Harness:
    config: Config
    concur: ConcurSim
    company_file: CompanyFile
    company_path: Path
    worker: RunningWorker | None
    password: str
    clock: SimClock
    shutdown: trio.Event = field(default_factory=trio.Event)
    sessions: list[SessionReport] = field(default_factory=list)

    @property
    def company(self) -> str:
        return self.config.companies[0].id

    @property
    def qbwc_url(self) -> str:
        assert self.worker is not None
        return self.worker.url + "/qbwc"

    @property
    def webhook_url(self) -> str:
        assert self.worker is not None
        return self.worker.url + "/webhooks/concur"


def write_run_config(config: Config, run_dir: Path, concur_url: str, worker_port: int | None = None, fis: bool = False, store_url: str | None = None) -> Config:
    """The config as a real file in ``run_dir``: data there, Concur pointing at the simulator.

    A file (not an in-memory copy) so that the worker's config reload, ``mlc`` commands and the
    console work on the demo exactly as on a real installation."""
    raw = tomllib.loads(config.path.read_text(encoding="utf-8"))
    worker = raw.setdefault("worker", {})
    worker["data_dir"] = str(run_dir)
    if worker_port is not None:
        worker["listen"] = f"{config.worker.listen_host}:{worker_port}"
        worker["public_url"] = f"http://localhost:{worker_port}" if worker_port else worker.get("public_url", "http://localhost:8750")
    raw.setdefault("operator", {})["token_file"] = str(run_dir / "operator.token")
    if store_url is None:
        store_url = RUN_STORE_URL() if callable(RUN_STORE_URL) else RUN_STORE_URL
    if store_url:
        raw["store"] = {"url": store_url}
    for company in raw.get("companies", []):
        concur = company.setdefault("concur", {})
        concur["base_url"] = concur_url
        concur["webhook_public_key"] = str(run_dir / "concur-webhook.pem")
        concur["verify_webhook_signature"] = True
        if fis:
            concur["source"] = "fis"
    path = run_dir / "mlc.toml"
    path.write_text("# Written by the ml-connector harness for this run.\n" + tomli_w.dumps(raw), encoding="utf-8")
    return load_config(path, environ=dict(os.environ))


def worker_configs(run_config: Path, ports: list[int], store_url: str) -> list[Path]:
    """One config per worker of a cluster: the same data, companies and store (``store_url``, ""
    keeps the run's); its own listen address. Written beside ``run_config`` as worker-N.toml."""
    raw = tomllib.loads(run_config.read_text(encoding="utf-8"))
    paths = []
    for number, port in enumerate(ports):
        raw["worker"]["listen"] = f"127.0.0.1:{port}"
        if store_url:
            raw.setdefault("store", {})["url"] = store_url
        path = run_config.with_name(f"worker-{number}.toml")
        path.write_text(tomli_w.dumps(raw), encoding="utf-8")
        load_config(path)  # a worker must accept it
        paths.append(path)
    return paths


def read_store(config: Config, sql: str, *args) -> list:
    """Read a worker's store from outside, as another process sees it (a connection of its own;
    SQLite's WAL lets readers in): rows readable by index and by name on both backends."""
    if config.store.postgres:
        from worker.store.pg import PgConnection, connect

        with connect(config.store.url.reveal()) as pg:
            return PgConnection(pg).execute(sql, args).fetchall()
    conn = sqlite3.connect(config.worker.data_dir / "mlc.sqlite3", timeout=10)
    conn.row_factory = sqlite3.Row
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def edit_run_config(harness: Harness, change) -> Config:
    """Apply ``change(raw_dict)`` to the run's config file (the worker picks it up by itself)."""
    path = harness.config.path
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    change(raw)
    path.write_text(tomli_w.dumps(raw), encoding="utf-8")
    harness.config = load_config(path)
    return harness.config


def use_concur_account_codes(raw: dict) -> None:
    """The first company posts each debit to the account Concur's own account code names (through
    DEMO_ACCOUNT_CODES), and names its A/P and card accounts by number."""
    company = raw["companies"][0]
    company.setdefault("mapping", {}).update(account_source="concur_account_code", account_codes=dict(DEMO_ACCOUNT_CODES))
    company.setdefault("posting", {}).update(ap_account="20000", company_card_account="20500")


def _port(url: str) -> int:
    return urlsplit(url).port or 0


async def start(
    nursery: trio.Nursery,
    config: Config,
    run_dir: Path,
    *,
    seed: int = 7,
    reports: int = 10,
    invoices: int = 4,
    worker_port: int | None = None,
    concur_port: int | None = None,
    latency: LatencyModel | None = None,
    clock_scale: float = 0.0,
    password: str = DEMO_PASSWORD,
    stderr_log: bool = False,
    start_worker: bool = True,
    concur_profile: str = "simple",
    accounts_by_code: bool = False,
    fis: bool = False,
    store_url: str | None = None,
) -> Harness:
    """Start Concur (with generated data) and the worker; seed the QuickBooks company file.
        ``concur_profile="realistic"`` generates the shapes of issues 12/13/19/20 (sim/concur/data.py);
        ``accounts_by_code``: the file uses account numbers and the first company posts by Concur's
        account codes into them (``use_concur_account_codes``); ``fis`` switches every company to
        Concur's Financial Integration Service (``source = "fis"``); ``store_url``: the run's ``[store] url``
    ("" = SQLite in ``run_dir``; None = ``RUN_STORE_URL``)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    company = config.companies[0]
    concur = ConcurSim(
        seed,
        [
            CompanyParams(
                id=c.id,
                uuid=c.concur.company_uuid,
                client_id=c.concur.client_id,
                client_secret=c.concur.client_secret.reveal(),
                request_token=c.concur.request_token.reveal() or "demo-request-token",
                reports=reports,
                invoices=invoices,
                profile=concur_profile,
                fis=fis or c.concur.source == "fis",
            )
            for c in config.companies
        ],
    )
    concur_url = await concur.serve(nursery, "127.0.0.1", _port(company.concur.base_url) if concur_port is None else concur_port)
    concur.write_public_key(run_dir / "concur-webhook.pem")
    config = write_run_config(config, run_dir, concur_url, worker_port, fis, store_url)
    company_path = run_dir / f"{company.id}.qbsim"
    company_file = seed_company(
        company.qbwc.file_id, company.qbwc.owner_id, company_name=company.name, account_numbers=accounts_by_code, latency=latency or LatencyModel(0, 0, 0, 0, 0)
    )
    company_file.save(company_path)
    harness = Harness(config, concur, company_file, company_path, None, password, SimClock(clock_scale))
    if accounts_by_code:
        edit_run_config(harness, use_concur_account_codes)
    if start_worker:
        await start_worker_in(nursery, harness, worker_port, stderr_log)
    return harness


async def start_worker_in(nursery: trio.Nursery, harness: Harness, port: int | None = None, stderr_log: bool = False) -> RunningWorker:
    harness.shutdown = trio.Event()
    harness.worker = await nursery.start(
        lambda task_status: serve_worker(harness.config, harness.shutdown, port=port, stderr_log=stderr_log, task_status=task_status)
    )
    return harness.worker


async def stop_worker(harness: Harness) -> None:
    """Stop the worker and return once it is down (its store closed), so a restart sees everything."""
    worker = harness.worker
    harness.shutdown.set()
    harness.worker = None
    if worker is not None:
        await worker.stopped.wait()


def approve_everything(harness: Harness) -> int:
    return len(harness.concur.approve_all(harness.company))


def unapproved(harness: Harness) -> list[tuple[str, str]]:
    """(kind, Concur id) of the generated documents not approved yet, in a stable order."""
    data = harness.concur.companies[harness.company].data
    reports = [("expense_report", r.id) for r in data.reports.values() if r.status != "A_APPR" and not r.deleted]
    invoices = [("invoice", i.id) for i in data.invoices.values() if i.status != "A_APPR" and not i.deleted]
    return sorted(reports + invoices, key=lambda item: item[1])


def approve(harness: Harness, kind: str, concur_id: str) -> None:
    if kind == "invoice":
        harness.concur.approve_invoice(concur_id)
    else:
        harness.concur.approve(concur_id)


async def deliver(harness: Harness, *, duplicates: int = 1, shuffle: bool = True):
    return await harness.concur.deliver_events(harness.webhook_url, duplicates=duplicates, shuffle=shuffle)


async def web_connector_run(harness: Harness, knobs: FaultKnobs | None = None) -> SessionReport:
    report = await run_session(
        harness.qbwc_url,
        harness.config.companies[0].qbwc.username,
        harness.password,
        harness.company_file,
        knobs,
        harness.clock,
        owner_id=harness.config.companies[0].qbwc.owner_id,
    )
    harness.sessions.append(report)
    harness.company_file.save(harness.company_path)
    return report


def _progress(conn: sqlite3.Connection) -> dict[str, int]:
    return {state: count for state, count in conn.execute("SELECT state, COUNT(*) FROM documents GROUP BY state")}


async def progress(harness: Harness) -> dict[str, int]:
    assert harness.worker is not None
    return await harness.worker.ctx.store.run(_progress)


async def drain(
    harness: Harness, *, expected: int, timeout_s: float = 120.0, knobs: FaultKnobs | None = None, pause_s: float = 0.05, on_progress=None
) -> dict[str, int]:
    """Run Web Connector sessions until ``expected`` documents reached a final state."""
    with trio.move_on_after(timeout_s):
        while True:
            counts = await progress(harness)
            if on_progress is not None:
                on_progress(counts)
            finished = sum(counts.get(s, 0) for s in FINAL_STATES)
            pending = await harness.worker.ctx.store.run(
                lambda conn: conn.execute("SELECT COUNT(*) FROM postings WHERE state IN ('queued', 'sent', 'unknown')").fetchone()[0]
            )
            if finished >= expected and not pending:
                return counts
            await web_connector_run(harness, knobs)
            await trio.sleep(pause_s)
    return await progress(harness)


async def wait_fis_confirmed(harness: Harness, expected: int, timeout_s: float = 30.0) -> int:
    """FIS companies: wait until Concur accepted ``expected`` posting confirmations; returns how many it did."""
    assert harness.worker is not None

    def done(conn: sqlite3.Connection) -> int:
        return int(conn.execute("SELECT COUNT(*) FROM fis_confirmations WHERE state = 'done'").fetchone()[0])

    with trio.move_on_after(timeout_s):
        while await harness.worker.ctx.store.run(done) < expected:
            await trio.sleep(0.1)
    return int(await harness.worker.ctx.store.run(done))


def quickbooks_transactions(company_file: CompanyFile) -> list[tuple[str, dict]]:
    """(kind, record) of every bill and journal entry in the simulated company file."""
    txns = company_file.state.txns
    return [(kind, t) for kind in ("Bill", "JournalEntry") for t in txns.get(kind, [])]


def transaction_total(kind: str, txn: dict, company_file: CompanyFile | None = None, aside: frozenset[str] = frozenset()) -> Decimal:
    """What a transaction books as its documents' amount: a bill's amount due, a journal entry's
    debits. Lines on the ``aside`` accounts (case-folded names) do not count: what an employee
    owes back (employee_receivable_account) and a cash advance applied (cash_advance_account)
    settle a report, they are not what Concur approved."""
    if kind == "Bill":
        total = Decimal(txn["AmountDue"])
        if company_file is not None and aside:
            total -= sum(
                (
                    Decimal(line["Amount"])
                    for line in txn.get("ExpenseLineRet", [])
                    if (company_file.ref_name(line.get("AccountRef")) or "").casefold() in aside
                ),
                Decimal(0),
            )
        return total
    return sum(
        (
            Decimal(line["Amount"])
            for line in txn.get("Lines", [])
            if line.get("_tag") == "JournalDebitLine"
            and not (company_file is not None and (company_file.ref_name(line.get("AccountRef")) or "").casefold() in aside)
        ),
        Decimal(0),
    )


def settlement_accounts(config: Config) -> frozenset[str]:
    """The accounts that settle reports rather than book their amount (see ``transaction_total``)."""
    return frozenset(name.casefold() for c in config.companies for name in (c.posting.employee_receivable_account, c.posting.cash_advance_account) if name)


def summary(harness: Harness, seconds: float) -> dict:
    """The fixed JSON summary line of ``mlc demo --headless`` (contract)."""
    assert harness.worker is not None
    counts, duplicates_skipped = harness_counts(harness)
    txns = quickbooks_transactions(harness.company_file)
    keys = [str(t.get("ExternalGUID") or t.get("TxnID")) for _, t in txns]
    aside = settlement_accounts(harness.worker.ctx.config)
    qb_total = sum((transaction_total(kind, t, harness.company_file, aside) for kind, t in txns), Decimal(0))
    return {
        "documents": sum(counts.values()),
        "posted": counts.get("posted", 0),
        "held": counts.get("held", 0),
        "failed": counts.get("failed", 0),
        "skipped_duplicates": duplicates_skipped,
        "quickbooks_transactions": len(txns),
        "quickbooks_duplicates": len(keys) - len(set(keys)),
        "concur_total": f"{harness.concur.totals_approved(harness.company):.2f}",
        "quickbooks_total": f"{qb_total:.2f}",
        "seconds": round(seconds, 1),
    }


def harness_counts(harness: Harness) -> tuple[dict[str, int], int]:
    """Documents by state, and duplicates skipped, from the worker's store."""
    store = harness.worker.ctx.store  # type: ignore[union-attr]
    counts = store.run_sync(_progress)
    duplicates = store.run_sync(lambda conn: duplicate_records.skipped(conn, deliveries=True))
    return counts, duplicates


def dump(value: dict) -> str:
    return json.dumps(value, separators=(", ", ": "))
