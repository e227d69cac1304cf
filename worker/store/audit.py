"""The append-only audit trail, hash-chained so that an edited or removed entry is detectable.

Each entry's hash covers the previous entry's hash and the entry's own fields in a canonical JSON
form; ``verify`` walks the chain from the start. The table also refuses UPDATE and DELETE
(triggers in the schema), so tampering needs a deliberate act that ``verify`` then exposes.
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
    row = conn.execute("SELECT hash FROM audit ORDER BY id DESC LIMIT 1").fetchone()
    prev_hash = row[0] if row else GENESIS
    at = now_iso()
    detail_text = json.dumps(detail or {}, separators=(",", ":"), ensure_ascii=False, sort_keys=True, default=str)
    digest = _digest(prev_hash, company, document_id, at, actor, action, detail_text)
    return int(
        conn.execute(
            "INSERT INTO audit (company, document_id, at, actor, action, detail, prev_hash, hash) VALUES (?,?,?,?,?,?,?,?) RETURNING id",
            (company, document_id, at, actor, action, detail_text, prev_hash, digest),
        ).fetchone()[0]
    )


@dataclass(frozen=True)
class ChainProblem:
    entry_id: int
    message: str


def verify(conn: sqlite3.Connection) -> list[ChainProblem]:
    """Every break in the chain: an entry whose content or link does not match its hash."""
    problems: list[ChainProblem] = []
    prev_hash = GENESIS
    prev_id = 0
    for row in conn.execute("SELECT id, company, document_id, at, actor, action, detail, prev_hash, hash FROM audit ORDER BY id"):
        if row["prev_hash"] != prev_hash:
            problems.append(ChainProblem(row["id"], f"entry {row['id']} does not follow entry {prev_id} (an entry was removed or reordered)"))
        expected = _digest(row["prev_hash"], row["company"], row["document_id"], row["at"], row["actor"], row["action"], row["detail"])
        if expected != row["hash"]:
            problems.append(ChainProblem(row["id"], f"entry {row['id']} was edited after it was written"))
        prev_hash, prev_id = row["hash"], row["id"]
    return problems
