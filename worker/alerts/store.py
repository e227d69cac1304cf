"""The alert tables (``alert_conditions``, ``alert_watermarks``, ``alert_deliveries``): what is
observed for the pure core, what it decided, and the deliveries with their bounded retries."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections import Counter
from collections.abc import Callable, Iterable

from shared.clock import iso, parse_iso
from shared.config import CompanyConfig
from worker.alerts.core import INSTALLATION, TOKEN_WARNING_DAYS, Alert, Decision, Finding, HeldNews, Kind, Observations
from worker.posting.reconciling import reconcile_company
from worker.store import audit

MAX_ATTEMPTS = 8  # then the delivery is abandoned (logged); the condition stays recorded
FIRST_RETRY_S = 30.0
MAX_RETRY_S = 3600.0
RECONCILE_DAYS = 45  # the daily check looks at documents dated this far back
REASON_CHARS = 160
LEASE_S = 600.0

DAILY_KINDS = {Kind.RECONCILE_DIFFERENCE, Kind.AUDIT_CHAIN}
ROUND_KINDS = {Kind.DOCUMENTS, Kind.QUICKBOOKS_SILENT, Kind.CONCUR_RECONNECT, Kind.CONCUR_TOKEN_EXPIRING}


def retry_delay_s(attempts: int) -> float:
    """30 s, 1 min, 2 min, ... at most an hour between tries."""
    return min(FIRST_RETRY_S * 2 ** max(attempts - 1, 0), MAX_RETRY_S)


# --- observing ------------------------------------------------------------------------------------


def observe(conn: sqlite3.Connection, companies: Iterable[CompanyConfig], silent_hours: float, now: dt.datetime, daily: bool) -> Observations:
    seen = Observations(checked=set(ROUND_KINDS) | (DAILY_KINDS if daily else set()))
    for company in companies:
        _held(conn, company.id, seen)
        _silent(conn, company.id, silent_hours, now, seen)
        _concur(conn, company.id, now, seen)
        if daily:
            _reconcile(conn, company, now, seen)
    if daily:
        problems = audit.verify(conn)
        if problems:
            seen.findings.append(
                Finding(
                    Kind.AUDIT_CHAIN,
                    INSTALLATION,
                    f"The audit trail's hash chain is broken: {len(problems)} problem(s), first: {problems[0].message}. "
                    "Run `mlc audit verify` and restore the database from a backup if entries were changed.",
                )
            )
    return seen


def _held(conn: sqlite3.Connection, company: str, seen: Observations) -> None:
    if conn.execute("SELECT 1 FROM documents WHERE company = ? AND state IN ('held', 'failed') LIMIT 1", (company,)).fetchone():
        seen.companies_with_held.add(company)
    mark = conn.execute("SELECT held_until FROM alert_watermarks WHERE company = ?", (company,)).fetchone()
    rows = conn.execute(
        "SELECT state, reason, updated_at FROM documents WHERE company = ? AND state IN ('held', 'failed') AND updated_at > ?",
        (company, mark[0] if mark else ""),
    ).fetchall()
    if not rows:
        return
    states = Counter(r["state"] for r in rows)
    reasons = Counter((r["reason"] or "no reason given")[:REASON_CHARS] for r in rows)
    seen.news.append(HeldNews(company, states["held"], states["failed"], tuple(reasons.most_common()), max(r["updated_at"] for r in rows)))


def _silent(conn: sqlite3.Connection, company: str, hours: float, now: dt.datetime, seen: Observations) -> None:
    waiting, oldest = conn.execute(
        "SELECT COUNT(*), MIN(updated_at) FROM documents WHERE company = ? AND state IN ('fetched', 'queued', 'sent', 'unknown')", (company,)
    ).fetchone()
    if not waiting:
        return
    row = conn.execute("SELECT last_reached_at, last_error FROM qb_company WHERE company = ?", (company,)).fetchone()
    reached = row["last_reached_at"] if row else None
    # Silent since the later of the last answer and the oldest waiting document: QuickBooks that
    # had nothing to do over a weekend is not silent the moment work arrives.
    since = max(parse_iso(oldest), parse_iso(reached)) if reached else parse_iso(oldest)
    if now - since < dt.timedelta(hours=hours):
        return
    silent_h = int((now - since).total_seconds() // 3600)
    last = f" Last reached {reached[:16].replace('T', ' ')} UTC." if reached else " Never reached yet."
    problem = f" Last problem: {row['last_error']}" if row and row["last_error"] else ""
    seen.findings.append(
        Finding(
            Kind.QUICKBOOKS_SILENT,
            company,
            f"QuickBooks has not been reached for {silent_h} hours while {waiting} document(s) wait to post.{last}{problem} "
            "Check that the Web Connector runs (Auto-Run) and can open the company file.",
        )
    )


def _concur(conn: sqlite3.Connection, company: str, now: dt.datetime, seen: Observations) -> None:
    row = conn.execute("SELECT needs_reconnect, reason, refresh_expires_at FROM concur_tokens WHERE company = ?", (company,)).fetchone()
    if row is None:
        return
    if row["needs_reconnect"]:
        why = f" ({row['reason'][:REASON_CHARS]})" if row["reason"] else ""
        seen.findings.append(
            Finding(
                Kind.CONCUR_RECONNECT,
                company,
                f"Concur needs reconnect{why}: nothing new is fetched. Get a new company request token and run `mlc concur connect {company}`.",
            )
        )
    elif row["refresh_expires_at"]:
        left = parse_iso(row["refresh_expires_at"]) - now
        if left <= dt.timedelta(days=TOKEN_WARNING_DAYS):
            seen.findings.append(
                Finding(
                    Kind.CONCUR_TOKEN_EXPIRING,
                    company,
                    f"The Concur refresh token expires on {row['refresh_expires_at'][:10]} (in {max(left.days, 0)} day(s)) and was not renewed. "
                    f"Check the worker's Concur connection, or run `mlc concur connect {company}` with a new request token.",
                )
            )


def _reconcile(conn: sqlite3.Connection, company: CompanyConfig, now: dt.datetime, seen: Observations) -> None:
    start = (now - dt.timedelta(days=RECONCILE_DAYS)).date()
    result = reconcile_company(conn, company, start, now.date(), only_posted=True)
    off = [row for row in result.rows if row.difference != 0]
    if off or result.unplanned or result.concur_total != result.planned_total:
        total = sum((abs(row.difference) for row in off), start=0)
        seen.findings.append(
            Finding(
                Kind.RECONCILE_DIFFERENCE,
                company.id,
                f"Posted totals differ from Concur's on {len(off)} account/class row(s) (total difference {total:.2f}) "
                f"for documents dated since {start}. Run `mlc reconcile {company.id} --from {start}`.",
            )
        )


# --- conditions and deliveries ----------------------------------------------------------------------


def open_conditions(conn: sqlite3.Connection) -> dict[tuple[Kind, str], str]:
    return {
        (Kind(r["kind"]), r["company"]): r["summary"]
        for r in conn.execute("SELECT kind, company, summary FROM alert_conditions")
        if r["kind"] in Kind._value2member_map_
    }


def record(conn: sqlite3.Connection, decision: Decision, channels: tuple[str, ...], now: dt.datetime, scrub: Callable[[str], str]) -> int:
    """Store what the core decided and queue its alerts on every channel; returns alerts queued."""
    for finding in decision.opened:
        conn.execute(
            "INSERT INTO alert_conditions (kind, company, opened_at, summary) VALUES (?,?,?,?) ON CONFLICT DO NOTHING",
            (finding.kind.value, finding.company, iso(now), scrub(finding.summary)),
        )
    for kind, company in decision.cleared:
        conn.execute("DELETE FROM alert_conditions WHERE kind = ? AND company = ?", (kind.value, company))
    for company, until in decision.watermarks:
        conn.execute(
            "INSERT INTO alert_watermarks (company, held_until) VALUES (?,?) ON CONFLICT (company) DO UPDATE SET held_until = excluded.held_until",
            (company, until),
        )
    return queue(conn, decision.alerts, channels, now, scrub)


def queue(conn: sqlite3.Connection, alerts: tuple[Alert, ...] | list[Alert], channels: tuple[str, ...], now: dt.datetime, scrub: Callable[[str], str]) -> int:
    for alert in alerts:
        for channel in channels:
            conn.execute(
                "INSERT INTO alert_deliveries (channel, kind, company, subject, text, created_at, next_attempt_at) VALUES (?,?,?,?,?,?,?)",
                (channel, alert.kind.value, alert.company, scrub(alert.subject), scrub(alert.text), iso(now), iso(now)),
            )
    return len(alerts)


def claim_due(conn: sqlite3.Connection, now: dt.datetime, limit: int = 50) -> list[sqlite3.Row]:
    """The deliveries due now, leased for ``LEASE_S`` so that a second deliverer (or the next round
    while a slow send goes on) does not send them twice; a send that never reports back is tried
    again when the lease ends."""
    rows = conn.execute("SELECT * FROM alert_deliveries WHERE state = 'pending' AND next_attempt_at <= ? ORDER BY id LIMIT ?", (iso(now), limit)).fetchall()
    conn.executemany("UPDATE alert_deliveries SET next_attempt_at = ? WHERE id = ?", [(iso(now + dt.timedelta(seconds=LEASE_S)), r["id"]) for r in rows])
    return rows


def next_due_at(conn: sqlite3.Connection) -> str | None:
    row = conn.execute("SELECT MIN(next_attempt_at) FROM alert_deliveries WHERE state = 'pending'").fetchone()
    return row[0] if row else None


def delivered(conn: sqlite3.Connection, delivery_id: int, now: dt.datetime) -> None:
    conn.execute("UPDATE alert_deliveries SET state = 'sent', sent_at = ?, attempts = attempts + 1, last_error = '' WHERE id = ?", (iso(now), delivery_id))


def failed(conn: sqlite3.Connection, delivery_id: int, now: dt.datetime, error: str) -> bool:
    """One more failed attempt; True when the bound is reached and the delivery is abandoned."""
    attempts = conn.execute("SELECT attempts FROM alert_deliveries WHERE id = ?", (delivery_id,)).fetchone()[0] + 1
    give_up = attempts >= MAX_ATTEMPTS
    conn.execute(
        "UPDATE alert_deliveries SET attempts = ?, last_error = ?, state = ?, next_attempt_at = ? WHERE id = ?",
        (attempts, error[:500], "abandoned" if give_up else "pending", iso(now + dt.timedelta(seconds=retry_delay_s(attempts))), delivery_id),
    )
    return give_up
