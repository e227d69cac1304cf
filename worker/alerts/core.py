"""The alert decisions, pure: what was observed and what is open in, alerts and changes out.

A *condition* (QuickBooks silent, Concur needs reconnect, ...) is announced once when it opens and
once when it clears, never in between: the open conditions are rows of ``alert_conditions``, so a
restart does not announce anything again. Documents newly held or failed are not a condition but
news: they are announced grouped, one message per company per round, and the "held" condition
they open clears (with a message) when no document of the company is held or failed any more.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

INSTALLATION = "*"  # the company of installation-wide conditions (the audit chain)
TOKEN_WARNING_DAYS = 7
TOP_REASONS = 3


class Kind(StrEnum):
    DOCUMENTS = "documents_held"
    QUICKBOOKS_SILENT = "quickbooks_silent"
    CONCUR_RECONNECT = "concur_reconnect"
    CONCUR_TOKEN_EXPIRING = "concur_token_expiring"
    RECONCILE_DIFFERENCE = "reconcile_difference"
    AUDIT_CHAIN = "audit_chain_broken"


@dataclass(frozen=True)
class Finding:
    """A condition seen true now. ``summary`` is built from values (counts, names, dates), never
    from a secret."""

    kind: Kind
    company: str
    summary: str


@dataclass(frozen=True)
class HeldNews:
    """Documents of one company that became held or failed since the last announcement."""

    company: str
    held: int
    failed: int
    reasons: tuple[tuple[str, int], ...]  # (reason, documents), most frequent first
    newest: str  # updated_at of the newest of them: the next round starts after it


@dataclass(frozen=True)
class Alert:
    kind: Kind
    company: str
    subject: str
    text: str
    cleared: bool = False


@dataclass(frozen=True)
class Decision:
    alerts: tuple[Alert, ...] = ()
    opened: tuple[Finding, ...] = ()
    cleared: tuple[tuple[Kind, str], ...] = ()
    watermarks: tuple[tuple[str, str], ...] = ()  # (company, held_until)


@dataclass
class Observations:
    """One round's view. ``checked``: the kinds looked at in this round; an open condition of a
    kind not checked (the daily ones between their runs) stays as it is."""

    findings: list[Finding] = field(default_factory=list)
    news: list[HeldNews] = field(default_factory=list)
    checked: set[Kind] = field(default_factory=set)
    # companies with any held or failed document now (the "held" condition clears without)
    companies_with_held: set[str] = field(default_factory=set)


TITLES = {
    Kind.DOCUMENTS: "documents held or failed",
    Kind.QUICKBOOKS_SILENT: "QuickBooks not reached",
    Kind.CONCUR_RECONNECT: "Concur needs reconnect",
    Kind.CONCUR_TOKEN_EXPIRING: "Concur refresh token expires soon",
    Kind.RECONCILE_DIFFERENCE: "reconcile difference",
    Kind.AUDIT_CHAIN: "audit chain broken",
}


def _where(company: str, names: Mapping[str, str]) -> str:
    return "ml-connector" if company == INSTALLATION else f"ml-connector {company} ({names.get(company, company)})"


def held_text(news: HeldNews) -> str:
    parts = [f"{n} {word}" for n, word in ((news.held, "newly held"), (news.failed, "newly failed")) if n]
    reasons = "; ".join(f"{reason} ({n})" for reason, n in news.reasons[:TOP_REASONS])
    return f"{' and '.join(parts)} document(s). Top reasons: {reasons}. Open the console or `mlc` to fix and release them."


def decide(seen: Observations, open_now: Mapping[tuple[Kind, str], str], names: Mapping[str, str] | None = None) -> Decision:
    """What to announce, open and clear, from one round of observations and the open conditions
    (``(kind, company) -> summary`` of the alert that opened it)."""
    names = names or {}
    alerts: list[Alert] = []
    opened: list[Finding] = []
    cleared: list[tuple[Kind, str]] = []
    found = {(f.kind, f.company): f for f in seen.findings}
    for key, finding in sorted(found.items()):
        if key not in open_now:
            opened.append(finding)
            alerts.append(Alert(finding.kind, finding.company, f"{_where(finding.company, names)}: {TITLES[finding.kind]}", finding.summary))
    for news in sorted(seen.news, key=lambda n: n.company):
        alerts.append(Alert(Kind.DOCUMENTS, news.company, f"{_where(news.company, names)}: {TITLES[Kind.DOCUMENTS]}", held_text(news)))
        if (Kind.DOCUMENTS, news.company) not in open_now:
            opened.append(Finding(Kind.DOCUMENTS, news.company, held_text(news)))
    for (kind, company), summary in sorted(open_now.items()):
        still = (kind, company) in found if kind is not Kind.DOCUMENTS else company in seen.companies_with_held
        if kind in seen.checked and not still:
            cleared.append((kind, company))
            alerts.append(
                Alert(kind, company, f"{_where(company, names)}: cleared: {TITLES[kind]}", f"Cleared: {TITLES[kind]}. It was: {summary}", cleared=True)
            )
    watermarks = tuple((n.company, n.newest) for n in seen.news)
    return Decision(tuple(alerts), tuple(opened), tuple(cleared), watermarks)


def sample_alerts(company: str, names: Mapping[str, str] | None = None) -> list[Alert]:
    """`mlc alerts test`: one of each kind, marked as a test, with made-up values."""
    names = names or {}
    samples = {
        Kind.DOCUMENTS: held_text(HeldNews(company, 2, 1, (("expense type AIRFR is not mapped", 2), ("account Travel is inactive", 1)), "")),
        Kind.QUICKBOOKS_SILENT: "QuickBooks has not been reached for 24 hours while 3 document(s) wait to post.",
        Kind.CONCUR_RECONNECT: "Concur refused the refresh token; run `mlc concur connect` with a new company request token.",
        Kind.CONCUR_TOKEN_EXPIRING: "The Concur refresh token expires in 5 days.",
        Kind.RECONCILE_DIFFERENCE: "Posted totals differ from Concur's by 12.34 on 1 account/class.",
        Kind.AUDIT_CHAIN: "The audit trail's hash chain is broken at entry 42 (an entry was edited after it was written).",
    }
    return [
        Alert(
            kind,
            company if kind is not Kind.AUDIT_CHAIN else INSTALLATION,
            f"TEST {_where(company if kind is not Kind.AUDIT_CHAIN else INSTALLATION, names)}: {TITLES[kind]}",
            f"This is a test of ml-connector alerts (mlc alerts test). {text}",
        )
        for kind, text in samples.items()
    ]
