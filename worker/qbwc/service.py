"""The QBWC callbacks: the session state machine wired to the store and the outbox.

Each callback answers from what the store already holds (no Concur call, no planning) and never
lets an exception escape: on an internal error it answers a valid value ("" or -1) and explains
through getLastError, because QBWC shows QBWC1041/1042 and stops on anything else.

Sessions live in the store (``qbwc_sessions``): every callback reads its session from there and
writes it back, so the calls of one session may reach different workers behind a load balancer.
"""

from __future__ import annotations

import logging
import secrets
import sqlite3
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import trio

from shared.clock import now_iso, utc_now
from shared.config import CompanyConfig
from shared.types import Actor
from worker import outbox
from worker.context import WorkerContext
from worker.qbwc import company_files, lists, passwords
from worker.qbwc.session import (
    MAX_NOOPS,
    CompanyFile,
    FileVerdict,
    Phase,
    Session,
    handed_out,
    on_company_file,
    on_receive,
    on_send,
    progress,
    refuse,
    set_size,
)
from worker.qbwc.soap import SoapValue
from worker.qbxml.build import wrap_requests
from worker.qbxml.hresults import connection_error_message
from worker.qbxml.parse import HostCompanyPrefs, QbxmlParseError, choose_version, match_responses, parse_hcp, parse_message_set, same_file_id
from worker.qbxml.status import HresultOutcome, hresult_outcome
from worker.store import audit, documents, qblists

log = logging.getLogger(__name__)

SERVER_VERSION = "ml-connector 0.1"
BUSY_WINDOW_S = 60.0  # another session active this recently means "busy"
NOOP = "NoOp"
BUSY_POSTPONE_S = 60  # ask a second Web Connector to come back after the running session
MIN_RUN_EVERY_S = 60  # QBWC's own smallest interval; we ask for no more
QUICKBOOKS_WAITS_S = 1.0  # the planner steps aside this long at most for one callback and the next
FILL_WAIT_S = 0.1  # how long a short set waits for the planner to fill it (see _fill_then_take)
EMPTY_WAIT_S = 1.0  # how long an empty one does (instead of a 5 s NoOp)


def auth_result(ticket: str, status: str, postpone_s: int | None = None) -> list[str]:
    """authenticate's array, always padded to four strings: [ticket, status, postpone, minimum
    run interval]. QBWC reads the positions, so an absent postpone is "" rather than dropped
    (dropping it would shift the interval into the postpone slot)."""
    return [ticket, status, "" if postpone_s is None else str(postpone_s), str(MIN_RUN_EVERY_S)]


FileCheck = tuple[FileVerdict, CompanyFile]  # what the first call's company file was judged


@dataclass(frozen=True)
class Call:
    method: str
    params: dict[str, str]
    client: str  # the caller's address, for login throttling


class QbwcService:
    def __init__(
        self, ctx: WorkerContext, batch: outbox.BatchLimits | None = None, clock: Callable[[], float] = time.time, busy_window_s: float = BUSY_WINDOW_S
    ) -> None:
        self.ctx = ctx
        self.busy_window_s = busy_window_s
        self.batch = batch or outbox.BatchLimits()
        self.clock = clock
        self.sessions: dict[str, Session] = {}  # the sessions this worker last read (the error path)
        # Documents whose rows QuickBooks just got or answered: their state follows once QuickBooks
        # has its next set (``settle_documents``), not while it waits for it.
        self.unrefreshed: set[int] = set()
        self.backoff = passwords.LoginBackoff()
        # At most this many argon2 checks at once; the rest are told "busy" without hashing anything.
        self.password_checks = trio.CapacityLimiter(passwords.MAX_CONCURRENT_CHECKS)
        # Hashes of the configured passwords, for the config generation they were made from: an
        # edited mlc.toml (new password_hash, new company) applies without a restart.
        self._configured_hashes: dict[str, str] = {}
        self._hashes_generation = -1
        self.handlers: dict[str, Callable[[Call], Awaitable[SoapValue]]] = {
            "serverVersion": self.server_version,
            "getServerVersion": self.server_version,
            "clientVersion": self.client_version,
            "authenticate": self.authenticate,
            "sendRequestXML": self.send_request_xml,
            "receiveResponseXML": self.receive_response_xml,
            "connectionError": self.connection_error,
            "getLastError": self.get_last_error,
            "closeConnection": self.close_connection,
            "getInteractiveURL": self.get_interactive_url,
            "interactiveDone": self.interactive_done,
            "interactiveRejected": self.interactive_rejected,
        }

    # -- dispatch ---------------------------------------------------------------------------

    async def call(self, call: Call) -> SoapValue:
        """Run one callback; an internal error becomes the method's failure value.

        From QuickBooks' answer (receiveResponseXML) until the next message set is handed out
        (sendRequestXML) QuickBooks idles: the planner steps aside meanwhile (``quickbooks_waits``).
        """
        handler = self.handlers[call.method]
        ticket = call.params.get("ticket", "")
        exchange = call.method in ("sendRequestXML", "receiveResponseXML") and bool(ticket)
        if exchange:
            self.ctx.quickbooks_waits.begin(ticket, QUICKBOOKS_WAITS_S)
        result: SoapValue = ""
        try:
            result = await handler(call)
            return result
        except Exception:
            log.exception("QBWC %s failed", call.method)
            ticket = call.params.get("ticket") or call.params.get("wcTicket") or ""
            session = self.sessions.get(ticket)
            if session is not None:
                session.last_error = "ml-connector hit an internal error; details are in its log. Nothing was lost: the next run continues."
                session.noop_pending = False
                try:
                    await self.ctx.store.run(_persist, session)
                except Exception:
                    log.exception("could not record the error on QBWC session")
            return (
                -1
                if call.method == "receiveResponseXML"
                else auth_result("", "nvu")
                if call.method == "authenticate"
                else ("done" if call.method == "connectionError" else "")
            )
        finally:
            # A receiveResponseXML asking for more is followed by sendRequestXML: keep holding.
            if exchange and not (call.method == "receiveResponseXML" and isinstance(result, int) and 0 <= result < 100):
                self.ctx.quickbooks_waits.end(ticket)

    # -- simple callbacks ------------------------------------------------------------------

    async def server_version(self, call: Call) -> str:
        return SERVER_VERSION

    async def client_version(self, call: Call) -> str:
        return ""  # any Web Connector 2.x will do

    async def get_interactive_url(self, call: Call) -> str:
        return ""

    async def interactive_done(self, call: Call) -> str:
        return "Done"

    async def interactive_rejected(self, call: Call) -> str:
        return ""

    # -- authenticate ----------------------------------------------------------------------

    def _company_for(self, username: str) -> CompanyConfig | None:
        for company in self.ctx.config.companies:
            if company.qbwc.username == username:
                return company
        return None

    async def authenticate(self, call: Call) -> list[str]:
        username = call.params.get("strUserName", "")
        password = call.params.get("strPassword", "")
        if not passwords.plausible(username, password):
            log.warning("QBWC login refused for user %s from %s: user name or password too long", passwords.shortened(username), call.client)
            return auth_result(secrets.token_hex(16), "nvu")
        if not self.backoff.begin(call.client):
            # One attempt per client at a time: a second one while the first waits is "busy".
            return auth_result(secrets.token_hex(16), "busy", postpone_s=BUSY_POSTPONE_S)
        good = checked = False
        try:
            company = self._company_for(username)
            await trio.sleep(self.backoff.delay(call.client))
            borrower = object()
            try:
                self.password_checks.acquire_on_behalf_of_nowait(borrower)
            except trio.WouldBlock:
                log.warning("QBWC login from %s answered busy: %d password checks already running", call.client, self.password_checks.total_tokens)
                return auth_result(secrets.token_hex(16), "busy", postpone_s=BUSY_POSTPONE_S)
            try:
                password_hash = None
                if company is not None:
                    # A password set with `mlc set-password` is the newest word on it; else the config's.
                    password_hash = await self.ctx.store.run(passwords.stored_hash, company.id) or (await self._configured_hash(company.id))
                # Verify even when the user is unknown so every refusal costs the same time.
                good = await passwords.verify(password_hash, password) and company is not None
                checked = True
            finally:
                self.password_checks.release_on_behalf_of(borrower)
        finally:
            self.backoff.end(call.client, good, checked)
        if not good or company is None:
            log.warning("QBWC login refused for user %s from %s", passwords.shortened(username), call.client)
            return auth_result(secrets.token_hex(16), "nvu")
        now = self.clock()
        ticket = secrets.token_hex(16)
        session = Session(ticket=ticket, company=company.id, created_at=now, last_seen_at=now, client=call.client)
        has_work = await self.ctx.store.run(_start_session, session, self.busy_window_s)
        if has_work is None:
            return auth_result(secrets.token_hex(16), "busy", postpone_s=BUSY_POSTPONE_S)
        self.sessions[ticket] = session
        self._forget_expired(now)
        # With work, the configured company file lets the Web Connector open QuickBooks in the
        # background ("" = the file open in QuickBooks); without, "none" leaves QuickBooks closed.
        return auth_result(ticket, company.qbwc.company_file if has_work else "none")

    async def _configured_hash(self, company_id: str) -> str | None:
        generation = self.ctx.config_generation
        if generation != self._hashes_generation:
            # A plain password from the environment is hashed here, off the event loop (argon2).
            config = self.ctx.config
            self._configured_hashes = await trio.to_thread.run_sync(lambda: {c.id: h for c in config.companies if (h := passwords.configured_hash(c))})
            self._hashes_generation = generation
        return self._configured_hashes.get(company_id)

    def _forget_expired(self, now: float) -> None:
        for ticket, session in list(self.sessions.items()):
            if (session.phase is Phase.CLOSED or session.expired(now)) and now - session.last_seen_at > 3600:
                del self.sessions[ticket]

    async def _load(self, ticket: str) -> Session | None:
        """The session as the store holds it: another worker may have served its last call."""
        session = await self.ctx.store.run(_load_session, ticket) if ticket else None
        if session is not None:
            self.sessions[ticket] = session
        return session

    async def _session(self, call: Call, key: str = "ticket") -> Session | None:
        session = await self._load(call.params.get(key, ""))
        if session is None or session.phase is Phase.CLOSED:
            return None
        if session.expired(self.clock()):
            session.phase = Phase.CLOSED
            return None
        return session

    # -- sendRequestXML --------------------------------------------------------------------

    async def send_request_xml(self, call: Call) -> str:
        session = await self._session(call)
        if session is None:
            return ""  # getLastError explains; QBWC starts a new session next run
        company = self.ctx.config.company(session.company)
        hcp = call.params.get("strHCPResponse", "")
        decision = on_send(session, self.clock(), has_hcp=bool(hcp.strip()))
        lost = [int(rid) for rid in decision.lost if rid.isdigit()]
        facts: HostCompanyPrefs | None = None
        file_check: FileCheck | None = None
        if decision.first_call and session.phase is Phase.OPEN:
            recorded = await self.ctx.store.run(company_files.recorded, session.company)
            facts, file_check = self._check_company_file(session, company, hcp, call.params.get("strCompanyFileName", ""), recorded)
        later: set[int] = set()
        # Set before the store call, which saves the session: the answer may reach another worker
        # (or this one after a restart), and the pace is measured from this time.
        session.handed_at = self.clock()
        xml = await self.ctx.store.run(_next_request_set, session, company, self.batch, lost, decision.first_call, facts, file_check, True, later, urgent=True)
        self.unrefreshed |= later
        if lost:
            self.ctx.changed.notify()
        if xml is None:
            xml = await self._fill_then_take(session, company)
        if xml:
            self.ctx.metrics.qbxml_requests.labels(session.company, "set").inc()
            return xml
        if session.phase is Phase.READY and session.noops < MAX_NOOPS and await self.ctx.store.run(_planner_busy, session.company):
            # Documents are being planned right now: wait a moment (QBWC pauses 5 s) and ask again.
            session.noops += 1
            session.noop_pending = True
            await self.ctx.store.run(_persist, session)
        elif not session.last_error:
            session.last_error = "Nothing more to send."
            await self.ctx.store.run(_persist, session)  # getLastError may reach another worker
        return ""

    async def _fill_then_take(self, session: Session, company: CompanyConfig) -> str:
        """The set would be short while the planner is still turning documents into rows (the
        first set after a burst, or after the lists were read): let the planner work a moment,
        until a full set is ready or it has nothing more, then take the set. A short set costs
        QuickBooks another round trip (~0.1 s), so a short set waits FILL_WAIT_S at most; an empty
        one would cost a NoOp (QBWC pauses 5 s), so it waits up to EMPTY_WAIT_S."""
        waits = self.ctx.quickbooks_waits
        waits.end(session.ticket)  # the planner may run now
        try:
            started = trio.current_time()
            seen = self.ctx.changed.count
            while True:
                pending, busy = await self.ctx.store.run(_fill_state, session.company, _room(session, self.batch))
                left = started + (FILL_WAIT_S if pending else EMPTY_WAIT_S) - trio.current_time()
                if not busy or left <= 0:
                    break
                seen = await self.ctx.changed.wait(seen, timeout=left)
        finally:
            waits.begin(session.ticket, QUICKBOOKS_WAITS_S)
        later: set[int] = set()
        session.handed_at = self.clock()
        xml = await self.ctx.store.run(_next_request_set, session, company, self.batch, [], False, None, None, False, later, urgent=True)
        self.unrefreshed |= later
        return xml or ""

    def _check_company_file(
        self, session: Session, company: CompanyConfig, hcp: str, path: str, recorded: CompanyFile | None
    ) -> tuple[HostCompanyPrefs | None, FileCheck | None]:
        """The wrong-company guards and the qbXML version, from the session's first call: the
        configured FileID, then the file recorded on the company's first contact."""
        try:
            facts = parse_hcp(hcp, company.qbwc.owner_id)
        except QbxmlParseError as exc:
            refuse(session, f"could not read the company file information from the Web Connector ({exc}); nothing was sent")
            return None, None
        if facts.file_id is not None and not same_file_id(facts.file_id, company.qbwc.file_id):
            refuse(
                session,
                f"QuickBooks has a different company file open ({facts.company_name or 'unnamed'}: FileID {facts.file_id}, expected {company.qbwc.file_id}); nothing was sent to it. "
                f"Open the company's own file in QuickBooks (or set company_file to its path).",
            )
            return None, None
        seen = CompanyFile(facts.file_id, facts.company_name, path)
        verdict = on_company_file(session, recorded, seen)
        if verdict.refused:
            return None, (verdict, seen)
        version = choose_version(company.qbwc.qbxml_version, list(facts.supported_versions))
        if version is None:
            refuse(
                session,
                f"this QuickBooks supports qbXML {', '.join(facts.supported_versions) or 'none'}; ml-connector needs {company.qbwc.qbxml_version} or an older version it speaks",
            )
            return None, None
        session.qbxml_version = version
        session.phase = Phase.READY
        return facts, (verdict, seen)

    # -- receiveResponseXML ----------------------------------------------------------------

    async def receive_response_xml(self, call: Call) -> int:
        session = await self._session(call)
        if session is None:
            return -1
        answered = on_receive(session, self.clock())
        response = call.params.get("response", "")
        hresult = call.params.get("hresult", "").strip()
        message = call.params.get("message", "").strip()
        if hresult:
            outcome = hresult_outcome(hresult)
            result = await self.ctx.store.run(_failed_set, session, answered, outcome, f"{hresult}: {message}", durable=True)
            self.ctx.changed.notify()
            if result is None:
                return -1
            return result
        try:
            responses = parse_message_set(response)
        except QbxmlParseError as exc:
            session.last_error = f"QuickBooks' answer could not be read ({exc}); the requests will be checked before anything is sent again"
            await self.ctx.store.run(_uncertain, session, answered, session.last_error, durable=True)
            self.ctx.changed.notify()
            return -1
        # Only the rows are recorded before the answer (durably: exactly-once rests on them);
        # the documents of rows QuickBooks simply did follow once it has its next set.
        later: set[int] = set()
        remaining = await self.ctx.store.run(_apply_answers, session, answered, responses, later, durable=True, urgent=True)
        self.unrefreshed |= later
        if remaining == 0 and session.phase is Phase.READY and session.noops < MAX_NOOPS and await self.ctx.store.run(_planner_busy, session.company):
            remaining = 1  # planning in progress: ask for another round (a NoOp wait follows)
        if remaining <= 0:
            await self.settle_now()  # the session ends: nothing for QuickBooks to wait for
        self.ctx.changed.notify()
        return progress(session.answered, remaining)

    async def settle_documents(self) -> None:
        """After an answer went out: once QuickBooks has its next set, the documents of the rows
        handed out and answered meanwhile take the state their rows give them."""
        await self.ctx.quickbooks_waits.wait_clear()
        await self.settle_now()

    async def settle_now(self) -> None:
        if not self.unrefreshed:
            return
        ids, self.unrefreshed = self.unrefreshed, set()
        await self.ctx.store.run(outbox.refresh_documents, ids)
        self.ctx.changed.notify()

    # -- the rest --------------------------------------------------------------------------

    async def connection_error(self, call: Call) -> str:
        session = await self._session(call)
        text = connection_error_message(call.params.get("hresult"), call.params.get("message"))
        if session is not None:
            session.last_error = text
            await self.ctx.store.run(_unreachable, session.company, text)
            await self.ctx.store.run(_persist, session)
            self.ctx.changed.notify()
        return "done"

    async def get_last_error(self, call: Call) -> str:
        session = await self._load(call.params.get("ticket", ""))
        if session is not None and session.noop_pending:
            session.noop_pending = False
            await self.ctx.store.run(_persist, session)
            return NOOP
        if session is None:
            return "The Web Connector session expired or is unknown to ml-connector; the next scheduled run starts a new one."
        if session.expired(self.clock()):
            return "The Web Connector session expired; the next scheduled run starts a new one."
        return session.last_error or "No error."

    async def close_connection(self, call: Call) -> str:
        session = await self._load(call.params.get("ticket", ""))
        if session is None:
            return "OK"
        session.phase = Phase.CLOSED
        session.noop_pending = False
        await self.settle_now()
        await self.ctx.store.run(_close_session, session)
        if session.last_error and session.last_error not in ("Nothing more to send.",):
            return f"Finished with a problem: {session.last_error}"
        return f"OK: {session.answered} requests exchanged with QuickBooks."


# --- store steps (each runs in one transaction) ------------------------------------------------


def _persist(conn: sqlite3.Connection, session: Session) -> None:
    state = session.to_json()
    conn.execute(
        """INSERT INTO qbwc_sessions (ticket, company, created_at, last_seen_at, closed_at, state, last_error)
           VALUES (?,?,?,?,?,?,?)
           ON CONFLICT (ticket) DO UPDATE SET last_seen_at = excluded.last_seen_at, closed_at = excluded.closed_at,
             state = excluded.state, last_error = excluded.last_error""",
        (session.ticket, session.company, now_iso(), now_iso(), now_iso() if session.phase is Phase.CLOSED else None, state, session.last_error),
    )


def _load_session(conn: sqlite3.Connection, ticket: str) -> Session | None:
    row = conn.execute("SELECT state, closed_at FROM qbwc_sessions WHERE ticket = ?", (ticket,)).fetchone()
    if row is None:
        return None
    session = Session.from_json(row["state"])
    if row["closed_at"] is not None:
        session.phase = Phase.CLOSED
    return session


def _start_session(conn: sqlite3.Connection, session: Session, busy_window_s: float) -> bool | None:
    """A new session: whatever an earlier one left in flight is uncertain now. Work to do?
    None: another Web Connector is running a session of this company (busy)."""
    for row in conn.execute("SELECT state FROM qbwc_sessions WHERE company = ? AND closed_at IS NULL", (session.company,)).fetchall():
        other = Session.from_json(row["state"])
        if other.ticket == session.ticket:
            continue
        # One Web Connector never runs two sessions of one application at once: a new authenticate
        # from the same machine means its last session broke off (its in-flight writes become
        # uncertain below). Another machine still talking is busy.
        live = other.phase is not Phase.CLOSED and not other.expired(session.created_at)
        if live and other.client != session.client and session.created_at - other.last_seen_at < busy_window_s:
            return None
        # Abandoned, expired or closed: whatever it had in flight becomes uncertain below.
        other.phase = Phase.CLOSED
        _persist(conn, other)
    moved = outbox.mark_company_uncertain(conn, session.company, "a new Web Connector session began before QuickBooks' answer arrived")
    if moved:
        audit.append(conn, session.company, None, Actor.QBWC, "uncertain", {"postings": moved, "why": "new session"})
    outbox.refresh_lagging(conn, session.company)  # a deferred document refresh lost to a crash
    _persist(conn, session)
    return outbox.pending_count(conn, session.company) > 0 or bool(lists.stale(conn, session.company, utc_now())) or _planner_busy(conn, session.company)


def _planner_busy(conn: sqlite3.Connection, company: str) -> bool:
    """Documents waiting to be planned now that the lists are known. One waiting for another
    document's vendor write can be planned only once that write is answered; while it is still in
    the outbox (perhaps backed off), waiting for it is no use."""
    if not qblists.ready(conn, company):
        return False
    return (
        conn.execute(
            f"""SELECT 1 FROM documents d WHERE d.company = ? AND d.state = 'fetched' AND (d.next_attempt_at IS NULL OR d.next_attempt_at <= ?)
                AND NOT ({documents.VENDOR_WRITE_PENDING}) LIMIT 1""",
            (company, now_iso()),
        ).fetchone()
        is not None
    )


def _fill_state(conn: sqlite3.Connection, company: str, room: int) -> tuple[int, bool]:
    """(requests ready to send, whether the planner is still producing rows while fewer than ``room`` are)."""
    pending = outbox.pending_count(conn, company)
    return pending, pending < room and _planner_busy(conn, company)


def _next_request_set(
    conn: sqlite3.Connection,
    session: Session,
    company: CompanyConfig,
    batch: outbox.BatchLimits,
    lost: list[int],
    first_call: bool,
    facts: HostCompanyPrefs | None,
    file_check: FileCheck | None = None,
    fill: bool = False,
    refresh_later: set[int] | None = None,
) -> str | None:
    """The next message set ("" for none). ``fill``: None instead, with nothing taken, when the set
    would be short while the planner is still producing rows (the caller waits and asks again).
    ``refresh_later``: collects the documents whose state follows later (``outbox.take_batch``)."""
    if lost:
        outbox.mark_uncertain(conn, lost, "the Web Connector asked for more before answering; QuickBooks may have applied these")
        audit.append(conn, session.company, None, Actor.QBWC, "uncertain", {"postings": lost, "why": "answer lost"})
    if first_call:
        _record_contact(conn, session, facts, file_check)
    if session.phase is not Phase.READY:
        _persist(conn, session)
        return ""
    if first_call:
        lists.start_pass(conn, session, utc_now())
    items = lists.requests(conn, session)
    alone = lists.suspect(conn, session)
    if alone is not None:
        # Its query failed last time: alone in the set, it cannot cost other requests a try.
        items = [item for item in items if item[0] == lists.PREFIX + alone]
    else:
        room = _room(session, batch)
        if fill and not items and _fill_state(conn, session.company, room)[1]:
            _persist(conn, session)
            return None
        items += outbox.take_batch(
            conn, session.company, session.ticket, batch, budget=max(room - len(items), 0), carrying=len(items), refresh_later=refresh_later
        )
    handed_out(session, [rid for rid, _ in items])
    _persist(conn, session)
    if not items:
        return ""
    return wrap_requests([xml for _, xml in items], session.qbxml_version or company.qbwc.qbxml_version, "continueOnError")


def _room(session: Session, batch: outbox.BatchLimits) -> int:
    return set_size(session.pace_s, batch.max_requests, batch.target_s, batch.first_requests)


def _record_contact(conn: sqlite3.Connection, session: Session, facts: HostCompanyPrefs | None, file_check: FileCheck | None) -> None:
    now = now_iso()
    if file_check is not None:
        verdict, seen = file_check
        if verdict.refused:
            company_files.note_refused(conn, session.company, seen, verdict)
        elif verdict in (FileVerdict.FIRST, FileVerdict.GAINED_FILE_ID) and session.phase is Phase.READY:
            company_files.record(conn, session.company, seen, verdict)
    if session.phase is Phase.REFUSED:
        conn.execute(
            """INSERT INTO qb_company (company, last_contact_at, last_result, last_error) VALUES (?,?,?,?)
               ON CONFLICT (company) DO UPDATE SET last_contact_at = excluded.last_contact_at, last_result = excluded.last_result, last_error = excluded.last_error""",
            (session.company, now, "refused", session.last_error),
        )
        audit.append(conn, session.company, None, Actor.QBWC, "company_file_refused", {"reason": session.last_error})
        return
    if facts is None:
        return
    conn.execute(
        """INSERT INTO qb_company (company, file_id, product, qbxml_version, home_currency, multicurrency, class_tracking, closing_date,
                                   account_numbers, country, last_contact_at, last_result, last_error, reachable_since, unreachable_since,
                                   last_reached_at)
           VALUES (?,?,?,?,?,?,?,?,?,?,?, 'ok', '', ?, NULL, ?)
           ON CONFLICT (company) DO UPDATE SET file_id = excluded.file_id, product = excluded.product,
             qbxml_version = excluded.qbxml_version, home_currency = excluded.home_currency,
             multicurrency = excluded.multicurrency, class_tracking = excluded.class_tracking,
             closing_date = excluded.closing_date, account_numbers = excluded.account_numbers, country = excluded.country,
             last_contact_at = excluded.last_contact_at,
             last_result = 'ok', last_error = '', last_reached_at = excluded.last_contact_at,
             reachable_since = COALESCE(qb_company.reachable_since, excluded.reachable_since), unreachable_since = NULL""",
        (
            session.company,
            facts.file_id,
            facts.product_name,
            session.qbxml_version,
            facts.home_currency or None,
            None if facts.is_multi_currency_on is None else int(facts.is_multi_currency_on),
            None if facts.is_using_class_tracking is None else int(facts.is_using_class_tracking),
            facts.closing_date.isoformat() if facts.closing_date else None,
            None if facts.is_using_account_numbers is None else int(facts.is_using_account_numbers),
            facts.company_country or facts.country or None,
            now,
            now,
            now,
        ),
    )


def _apply_answers(conn: sqlite3.Connection, session: Session, answered: list[str], responses: list, refresh_later: set[int] | None = None) -> int:
    matched = match_responses(answered, responses)
    summary = outbox.AnswerSummary(refresh_later=refresh_later)
    for rid in answered:
        response = matched.by_request_id.get(rid)
        if rid.startswith(lists.PREFIX):
            lists.apply_page(conn, session, rid[len(lists.PREFIX) :], response)
        else:
            outbox.apply_answer(conn, rid, response, summary)
    conn.execute(
        "UPDATE qb_company SET last_contact_at = ?, last_reached_at = ?, last_result = 'ok' WHERE company = ?", (now_iso(), now_iso(), session.company)
    )
    _persist(conn, session)
    return outbox.pending_count(conn, session.company) + len(session.iterators)


def _failed_set(conn: sqlite3.Connection, session: Session, answered: list[str], outcome: HresultOutcome, text: str) -> int | None:
    """QuickBooks could not process the request set at all (receiveResponseXML with an hresult)."""
    writes = [int(rid) for rid in answered if rid.isdigit()]
    list_types = [rid[len(lists.PREFIX) :] for rid in answered if rid.startswith(lists.PREFIX)]
    if outcome is HresultOutcome.QUARANTINE:
        # A parse error means nothing in the set was applied. Alone, a write is the culprit; in
        # company, each write is sent by itself to find which one it was. Queries in the set (list
        # pages, settlements, re-reads) are suspects too: they back off (counted, bounded) and a
        # list query then travels alone, so a bad query never gets a good write quarantined.
        if len(answered) == 1 and len(writes) == 1:
            outbox.quarantine(conn, writes[0], f"QuickBooks could not parse this request ({text}); it will not be sent again without a person")
        else:
            outbox.requeue(conn, writes, solo=True, why="set failed to parse; sending each request alone")
        outbox.back_off_queries(conn, answered, f"QuickBooks could not parse a set carrying this query ({text})")
        for list_type in list_types:
            lists.give_up_for_now(conn, session, list_type, f"QuickBooks could not parse a set carrying this query ({text})")
        audit.append(conn, session.company, None, Actor.QBWC, "parse_error", {"postings": writes, "lists": list_types, "hresult": text})
        _persist(conn, session)
        return progress(session.answered, outbox.pending_count(conn, session.company))
    for list_type in list_types:
        session.iterators[list_type] = ""  # the session ends here; the next one starts the pass over
    # Settling and re-reading queries of the set are asked again later, and counted like any other.
    outbox.back_off_queries(conn, answered, f"QuickBooks reported {text}")
    if outcome is HresultOutcome.RETRY:
        outbox.requeue(conn, writes, why=text)
    else:
        outbox.mark_uncertain(conn, writes, f"QuickBooks reported {text}; checking before resending")
    session.last_error = f"QuickBooks reported an error: {text}"
    _persist(conn, session)
    return None


def _uncertain(conn: sqlite3.Connection, session: Session, answered: list[str], why: str) -> None:
    outbox.mark_uncertain(conn, [int(rid) for rid in answered if rid.isdigit()], why)
    _persist(conn, session)


def _unreachable(conn: sqlite3.Connection, company: str, text: str) -> None:
    now = now_iso()
    conn.execute(
        """INSERT INTO qb_company (company, last_contact_at, last_result, last_error, unreachable_since) VALUES (?,?,?,?,?)
           ON CONFLICT (company) DO UPDATE SET last_contact_at = excluded.last_contact_at, last_result = excluded.last_result,
             last_error = excluded.last_error, unreachable_since = COALESCE(qb_company.unreachable_since, excluded.unreachable_since),
             reachable_since = NULL""",
        (company, now, "unreachable", text, now),
    )
    audit.append(conn, company, None, Actor.QBWC, "quickbooks_unreachable", {"message": text})


def _close_session(conn: sqlite3.Connection, session: Session) -> None:
    _persist(conn, session)
