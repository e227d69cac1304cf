"""The append-only audit trail, hash-chained so that an edited or removed entry is detectable.

Each entry's hash covers the previous entry's hash and the entry's own fields in a canonical JSON
form; ``verify`` walks the chain from the start. The table also refuses UPDATE and DELETE
(triggers in the schema), so tampering needs a deliberate act that ``verify`` then exposes.

There is one chain per company (the cluster-wide entries, company ``*``, are a chain too). Its
head lives in ``audit_heads``: an append first updates the company's head row, which locks it until
the transaction ends, so concurrent writers of one company (several workers on PostgreSQL) are
chained one after the other and never fork the chain; other companies do not wait. Entries written
before migration 0015 form the single chain they were written as (``audit_chain_switch``).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from shared.clock import now_iso

GENESIS = "0" * 64


def _digest(prev_hash: str, company: str, document_id: int | None, at: str, actor: str, action: str, detail: str) -> str:
    canonical = json.dumps([prev_hash, company, document_id, at, actor, action, detail], separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def append(conn: sqlite3.Connection, company: str, document_id: int | None, actor: str, action: str, detail: dict[str, Any] | None = None) -> int:
    """Add one entry; call inside the transaction that makes the change it describes."""
    prev_hash = _lock_head(conn, company)
    at = now_iso()
    detail_text = json.dumps(detail or {}, separators=(",", ":"), ensure_ascii=False, sort_keys=True, default=str)
    digest = _digest(prev_hash, company, document_id, at, actor, action, detail_text)
    row = conn.execute(
        "INSERT INTO audit (company, document_id, at, actor, action, detail, prev_hash, hash) VALUES (?,?,?,?,?,?,?,?) RETURNING id",
        (company, document_id, at, actor, action, detail_text, prev_hash, digest),
    ).fetchone()
    conn.execute("UPDATE audit_heads SET hash = ? WHERE company = ?", (digest, company))
    return int(row[0])


def _lock_head(conn: sqlite3.Connection, company: str) -> str:
    """The company's last hash, with its head row locked for the rest of the transaction."""
    row = conn.execute("UPDATE audit_heads SET seq = seq + 1 WHERE company = ? RETURNING hash", (company,)).fetchone()
    if row is not None:
        return row[0]
    # The company's first entry: create the head (a concurrent creator wins; then lock theirs).
    conn.execute("INSERT INTO audit_heads (company, seq, hash) VALUES (?, 0, ?) ON CONFLICT (company) DO NOTHING", (company, GENESIS))
    return conn.execute("UPDATE audit_heads SET seq = seq + 1 WHERE company = ? RETURNING hash", (company,)).fetchone()[0]


@dataclass(frozen=True)
class ChainProblem:
    entry_id: int
    message: str


def verify(conn: sqlite3.Connection) -> list[ChainProblem]:
    """Every break in the chain: an entry whose content or link does not match its hash."""
    problems: list[ChainProblem] = []
    switch = conn.execute("SELECT from_id FROM audit_chain_switch").fetchone()
    per_company_from = int(switch[0]) if switch else 1
    single = (GENESIS, 0)  # the one chain of the entries before the switch
    last: dict[str, tuple[str, int]] = {}  # company -> (hash, id) of its latest entry
    for row in conn.execute("SELECT id, company, document_id, at, actor, action, detail, prev_hash, hash FROM audit ORDER BY id"):
        prev_hash, prev_id = single if row["id"] < per_company_from else last.get(row["company"], (GENESIS, 0))
        if row["prev_hash"] != prev_hash:
            problems.append(ChainProblem(row["id"], f"entry {row['id']} does not follow entry {prev_id} (an entry was removed or reordered)"))
        expected = _digest(row["prev_hash"], row["company"], row["document_id"], row["at"], row["actor"], row["action"], row["detail"])
        if expected != row["hash"]:
            problems.append(ChainProblem(row["id"], f"entry {row['id']} was edited after it was written"))
        single = last[row["company"]] = (row["hash"], row["id"])
    heads = {r[0]: r[1] for r in conn.execute("SELECT company, hash FROM audit_heads")}
    for company, (hash_, entry_id) in sorted(last.items()):
        if entry_id >= per_company_from and heads.get(company) != hash_:
            problems.append(ChainProblem(entry_id, f"entry {entry_id} is not the last of {company}'s chain (later entries were removed)"))
    return problems
