"""Migration 0006 turns the state that lived in words into columns: a store written by the
previous version keeps every wait, hold, recheck and duplicate it had."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from pathlib import Path

from worker.store import audit
from worker.store.db import Store, _statements, migrations

NOW = "2026-12-01T10:00:00Z"


def append_single_chain(conn: sqlite3.Connection, company: str, document_id: int | None, actor: str, action: str, detail: dict) -> None:
    """An audit entry as written before migration 0015: one chain over every company."""
    row = conn.execute("SELECT hash FROM audit ORDER BY id DESC LIMIT 1").fetchone()
    prev = row[0] if row else audit.GENESIS
    text = json.dumps(detail, separators=(",", ":"), sort_keys=True)
    digest = audit._digest(prev, company, document_id, NOW, actor, action, text)
    conn.execute(
        "INSERT INTO audit (company, document_id, at, actor, action, detail, prev_hash, hash) VALUES (?,?,?,?,?,?,?,?)",
        (company, document_id, NOW, actor, action, text, prev, digest),
    )


def _version_5_store(path: Path) -> None:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.row_factory = sqlite3.Row
        for version, _, sql in migrations()[:5]:
            for statement in _statements(sql):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {version}")
        rows = [
            ("R-LISTS", "fetched", "waiting for the first Web Connector run to read the QuickBooks lists"),
            ("R-VENDOR", "fetched", 'waiting for the vendor "Ann Lee" to be written (document 9)'),
            ("R-NP", "skipped", "not_postable: not approved"),
            ("R-OP", "skipped", "operator"),
            ("R-DEL", "skipped", "deleted in Concur"),
            ("R-MAP", "held", 'expense type "X" has no account'),
            ("R-QB", "held", "BillAdd: vendor missing"),
            ("R-HOLD", "held", "held by operator"),
            ("R-POSTED", "posted", ""),
        ]
        ids = {}
        for concur_id, state, reason in rows:
            cur = conn.execute(
                "INSERT INTO documents (company, kind, concur_id, state, reason, created_at, updated_at) VALUES ('a', 'expense_report', ?, ?, ?, ?, ?)",
                (concur_id, state, reason, NOW, NOW),
            )
            ids[concur_id] = cur.lastrowid
        for concur_id, action in (("R-MAP", "plan_hold"), ("R-QB", "held"), ("R-HOLD", "hold")):
            append_single_chain(conn, "a", ids[concur_id], "worker", action, {})
        conn.execute("INSERT INTO checkpoints (company, name, value) VALUES ('a', ?, 'sweep')", (f"recheck:{ids['R-POSTED']}",))
        conn.execute("INSERT INTO checkpoints (company, name, value) VALUES ('a', 'concur_sweep', ?)", (NOW,))
        append_single_chain(conn, "a", ids["R-POSTED"], "concur", "duplicate_skipped", {"event": "e1", "why": "event delivered again"})
        append_single_chain(conn, "a", ids["R-POSTED"], "worker", "duplicate_skipped", {"why": "already in QuickBooks"})
        conn.commit()


def test_previous_version_state_moves_into_columns(tmp_path: Path) -> None:
    path = tmp_path / "mlc.sqlite3"
    _version_5_store(path)
    store = Store(path)
    try:

        def read(conn):
            docs = {r["concur_id"]: (r["wait"], r["hold_kind"], r["recheck"]) for r in conn.execute("SELECT * FROM documents")}
            checkpoints = [r["name"] for r in conn.execute("SELECT name FROM checkpoints")]
            duplicates = [(r["source"], r["concur_id"], r["why"], r["count"]) for r in conn.execute("SELECT * FROM duplicates ORDER BY id")]
            return docs, checkpoints, duplicates

        docs, checkpoints, duplicates = store.run_sync(read)
    finally:
        store.close()
    assert docs == {
        "R-LISTS": ("lists", "none", None),
        "R-VENDOR": ("vendor", "none", None),
        "R-NP": ("none", "not_postable", None),
        "R-OP": ("none", "operator", None),
        "R-DEL": ("none", "deleted", None),
        "R-MAP": ("none", "mapping", None),
        "R-QB": ("none", "quickbooks", None),
        "R-HOLD": ("none", "operator", None),
        "R-POSTED": ("none", "none", "sweep"),
    }
    assert checkpoints == ["concur_sweep"]
    assert duplicates == [("webhook", "R-POSTED", "event delivered again", 1), ("quickbooks", "R-POSTED", "already in QuickBooks", 1)]
