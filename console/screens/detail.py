"""Detail: one document's lines (accounts, classes, amounts), mapping decisions, audit timeline and qbXML."""

from __future__ import annotations

from typing import Any

from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Footer, Header, Static

from console.client import ApiError, WorkerUnreachable
from console.format import long_time, money, payment_style, plain, state_style
from console.screens.actions import DocumentActions
from console.widgets.qbxml_viewer import QbxmlViewer
from console.widgets.status_bar import StatusBar
from shared.api import AuditEntry, Document, DocumentDetail


def _name(ref: Any) -> str:
    if isinstance(ref, dict):
        return str(ref.get("full_name") or ref.get("list_id") or "")
    return ""


def header_text(d: Document) -> Text:
    t = Text()
    t.append(f"{d.concur_id}", style="bold")
    t.append(f"  {d.kind.replace('_', ' ')} · {d.company} · #{d.id}\n")
    t.append("state ")
    t.append(d.state, style=state_style(d.state) + " bold")
    if d.reason:
        t.append(f" — {d.reason}")
    if d.flag:
        t.append(f"  [{d.flag}]", style="bold magenta")
    t.append(f"\namount {money(d.amount, d.currency)} · {d.who or '-'} · approval {d.approval_status or '-'}")
    t.append(f"\nQuickBooks txn {d.quickbooks_txn_id or '-'} · updated {long_time(d.updated_at)} · attempts {d.attempts}")
    if d.payment_label:
        t.append("\npayment ")
        t.append(d.payment_label, style=payment_style(d.payment) + " bold")
        if d.concur_paid_amount or d.concur_paid_date:
            t.append(f" · Concur paid {money(d.concur_paid_amount, d.currency)} on {d.concur_paid_date or '-'}")
        if d.payment_recorded:
            t.append(f" · recorded {money(d.payment_recorded, d.currency)}")
        if d.payment_txn_id:
            t.append(f" · bill payment {d.payment_txn_id}")
    return t


def lines_table(plan: dict[str, Any] | None) -> Group | Text:
    """Each planned transaction with its lines: side, account, class, name, amount, memo."""
    if not plan:
        return Text("Not planned yet.", style="dim")
    if plan.get("outcome") != "plan":
        return Text(f"Plan outcome: {plan.get('outcome')} — {plan.get('reason', '')}", style="yellow")
    parts: list[Text | Table] = []
    for txn in plan.get("transactions", []):
        kind = str(txn.get("type", "")).removesuffix("Add")
        parts.append(Text(f"{kind} {txn.get('ref_number', '')} dated {txn.get('txn_date', '')}", style="bold"))
        table = Table(expand=True, box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
        table.add_column("Side", no_wrap=True)
        table.add_column("Account", ratio=3, overflow="fold")
        table.add_column("Class", ratio=2, overflow="fold")
        table.add_column("Name", ratio=2, overflow="fold")
        table.add_column("Amount", justify="right", no_wrap=True)
        table.add_column("Memo", ratio=2, overflow="ellipsis", no_wrap=True)
        for line in txn.get("lines", []):
            table.add_row(
                *(
                    plain(value)
                    for value in (
                        line.get("side", "expense"),
                        _name(line.get("account")),
                        _name(line.get("klass")),
                        _name(line.get("customer")) or _name(line.get("entity")),
                        line.get("amount", ""),
                        line.get("memo", ""),
                    )
                )
            )
        parts.append(table)
    parts.append(Text(f"total {plan.get('total', '')}", style="bold", justify="right"))
    return Group(*parts)


def decisions_text(plan: dict[str, Any] | None) -> Text:
    decisions = (plan or {}).get("decisions") or []
    vendor = (plan or {}).get("vendor")
    t = Text()
    if vendor:
        t.append(f"• vendor: {vendor.get('action')} {vendor.get('name', '')}\n")
    for d in decisions:
        t.append(f"• {d}\n")
    return t if t.plain else Text("No mapping decisions recorded.", style="dim")


def audit_section(entries: list[AuditEntry], more: bool) -> Table | Group:
    """The latest entries; when the worker holds older ones, a line saying where to read them."""
    table = audit_table(entries)
    if not more:
        return table
    return Group(Text(f"Latest {len(entries)} entries; older ones: mlc audit export, or /api/v1/audit?document=", style="dim"), table)


def fis_text(versions: list[dict[str, Any]]) -> Text:
    """FIS companies: per version of the document, whether, when and what Concur was told."""
    t = Text()
    for v in versions:
        t.append(f"• FIS {v.get('fis_id')} ({v.get('state')}, acknowledged {long_time(v['acknowledged_at']) if v.get('acknowledged_at') else '—'}): ")
        told = v.get("confirmation")
        if not told:
            t.append("not told yet (told once every transaction is in QuickBooks, or when sent back)\n", style="yellow")
            continue
        when = long_time(told["confirmed_at"]) if told.get("confirmed_at") else f"not yet ({told.get('state')}, {told.get('attempts')} attempt(s))"
        what = ", ".join(str(n) for n in told.get("document_numbers") or []) or "; ".join(str(m) for m in told.get("messages") or [])
        style = "green" if told.get("state") == "done" else ("bold red" if told.get("state") == "failed" else "yellow")
        t.append(f"{told.get('status')} — {what} — told {when}", style=style)
        if told.get("last_error"):
            t.append(f" ({told['last_error']})", style="dim")
        t.append("\n")
    return t if t.plain else Text("Not a Financial Integration Service document.", style="dim")


def audit_table(entries: list[AuditEntry]) -> Table:
    table = Table(expand=True, box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    table.add_column("#", justify="right")
    table.add_column("At (UTC)", no_wrap=True)
    table.add_column("Actor")
    table.add_column("Action")
    table.add_column("Detail", overflow="fold")
    for e in entries:
        detail = ", ".join(f"{k}={v}" for k, v in e.detail.items() if v not in ("", None, {}))
        table.add_row(*(plain(value) for value in (e.id, long_time(e.at), e.actor, e.action, detail)))
    return table


class DetailScreen(DocumentActions):
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("h", "act('hold')", "Hold"),
        Binding("u", "act('release')", "Release"),
        Binding("r", "act('replay')", "Replay"),
        Binding("s", "act('skip')", "Skip"),
        Binding("k", "act('reject')", "Reject (FIS)", show=False),
        Binding("x", "focus_xml", "qbXML"),
        Binding("g", "reload", "Refresh", show=False),
    ]

    def __init__(self, document_id: int) -> None:
        super().__init__()
        self.document_id = document_id
        self.detail: DocumentDetail | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="detail"):
            yield Static("Loading…", id="doc-header")
            yield Static(id="result")
            yield Static("Lines", classes="section")
            yield Static(id="lines")
            yield Static("Mapping decisions", classes="section")
            yield Static(id="decisions")
            yield Static("Concur told (Financial Integration Service)", classes="section")
            yield Static(id="fis")
            yield Static("Audit trail", classes="section")
            yield Static(id="audit")
            yield Static("qbXML request and response (x to focus, arrows to scroll)", classes="section")
            yield QbxmlViewer(id="qbxml")
        yield StatusBar()
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.app.change_signal.subscribe(self, self._changed)  # type: ignore[attr-defined]
        self.query_one("#detail").focus()
        self.load()

    def current_document(self) -> Document | None:
        return self.detail.document if self.detail else None

    def _changed(self, doc: Document) -> None:
        if doc.id == self.document_id:
            self.load()

    @work(exclusive=True, group="detail")
    async def load(self) -> None:
        try:
            detail = await self.app.client.document(self.document_id)  # type: ignore[attr-defined]
        except (WorkerUnreachable, ApiError) as exc:
            self.query_one("#doc-header", Static).update(Text(f"could not load document {self.document_id}: {exc}", style="bold red"))
            return
        self.detail = detail
        self.sub_title = detail.document.concur_id
        self.query_one("#doc-header", Static).update(header_text(detail.document))
        self.query_one("#lines", Static).update(lines_table(detail.plan))
        self.query_one("#decisions", Static).update(decisions_text(detail.plan))
        self.query_one("#fis", Static).update(fis_text(detail.fis))
        self.query_one("#audit", Static).update(audit_section(detail.audit, detail.audit_next is not None))
        self.query_one(QbxmlViewer).show(detail.postings)

    def action_focus_xml(self) -> None:
        self.query_one(QbxmlViewer).focus()

    def action_reload(self) -> None:
        self.load()
