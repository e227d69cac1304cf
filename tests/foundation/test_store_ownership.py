"""House rules for the store, checked on the source: each table has one writer module, and no
decision reads the human ``reason`` text or the audit trail.

A writer is any ``INSERT INTO``/``UPDATE``/``DELETE FROM``/``REPLACE INTO`` naming the table in a
string of a module under worker/ or mlc/ (migrations excepted). Another module that needs to change
the table calls its owner; a second backend then has one module per table to re-implement.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

OWNERS = {
    "documents": "worker/store/documents.py",
    "postings": "worker/outbox.py",
    "vendor_links": "worker/outbox.py",
    "duplicates": "worker/store/duplicates.py",
    "audit": "worker/store/audit.py",
    "events": "worker/store/events.py",
    "webhook_rejections": "worker/store/events.py",
    "checkpoints": "worker/store/checkpoints.py",
    "qb_lists": "worker/store/qblists.py",
    "qb_list_sync": "worker/store/qblists.py",
    # Tables one module of a side owns already (the Concur and QuickBooks shells).
    "concur_tokens": "worker/concur/sync.py",
    "concur_list_items": "worker/concur/sync.py",
    "qb_company": "worker/qbwc/service.py",
    "qbwc_sessions": "worker/qbwc/service.py",
    "qbwc_credentials": "worker/qbwc/passwords.py",
    "qb_company_file": "worker/qbwc/company_files.py",
    "alert_conditions": "worker/alerts/store.py",
    "alert_watermarks": "worker/alerts/store.py",
    "alert_deliveries": "worker/alerts/store.py",
    "fis_documents": "worker/store/fis.py",
    "fis_confirmations": "worker/store/fis.py",
    # PostgreSQL's schema version (SQLite keeps it in PRAGMA user_version).
    "mlc_schema": "worker/store/pg.py",
    # Several workers on one store (issue 18).
    "leases": "worker/store/leases.py",
    "audit_heads": "worker/store/audit.py",
    "bus_changes": "worker/store/changes.py",
}

WRITE = re.compile(
    r"\b(?:INSERT(?:\s+OR\s+\w+)?\s+INTO|REPLACE\s+INTO|DELETE\s+FROM|UPDATE)\s+(\w+)(?=\s*(?:\(|SET\b|WHERE\b|VALUES\b|SELECT\b|\"|'|$))", re.IGNORECASE
)
REASON_MATCH = re.compile(r"\breason\s+(?:NOT\s+)?(?:LIKE|GLOB)\b|\breason\s*(?:>=|<)\s*'|\[\"reason\"\]\.startswith", re.IGNORECASE)
AUDIT_READ = re.compile(r"\bFROM\s+audit\b", re.IGNORECASE)
# Who may read the audit trail back: its own module (the chain), and the readers that show or
# export it to people (operator API, `mlc audit export|verify`).
AUDIT_READERS = {"worker/store/audit.py", "worker/api/queries.py", "mlc/tools.py"}


def sources() -> list[Path]:
    files = [p for package in ("worker", "mlc") for p in sorted((ROOT / package).rglob("*.py"))]
    return [p for p in files if "migrations" not in p.parts]


def writes(text: str) -> set[str]:
    return {m.group(1).lower() for m in WRITE.finditer(text)} - {"set"}


def test_every_table_has_one_writer() -> None:
    offenders: dict[str, list[str]] = {}
    for path in sources():
        name = str(path.relative_to(ROOT))
        for table in writes(path.read_text(encoding="utf-8")):
            if OWNERS.get(table) != name:
                offenders.setdefault(name, []).append(table)
    assert offenders == {}, f"tables written outside their owner module ({OWNERS}): {offenders}"


def test_the_owner_check_sees_writes() -> None:
    sample = '''conn.execute("UPDATE documents SET reason = ? WHERE id = ?")
conn.execute("""INSERT OR REPLACE INTO checkpoints (company) VALUES (?)""")
conn.execute("DELETE FROM qb_lists WHERE x")
conn.execute("INSERT INTO t (a) VALUES (1) ON CONFLICT (a) DO UPDATE SET a = excluded.a")'''
    assert writes(sample) == {"documents", "checkpoints", "qb_lists", "t"}


@pytest.mark.parametrize("path", sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_decision_reads_reason_text_or_the_audit_trail(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    name = str(path.relative_to(ROOT))
    assert not REASON_MATCH.search(text), f"{name} decides on the human reason text; use a column (wait, hold_kind, recheck)"
    if name not in AUDIT_READERS:
        assert not AUDIT_READ.search(text), f"{name} reads the audit trail back; the audit trail records, it is never an input"
