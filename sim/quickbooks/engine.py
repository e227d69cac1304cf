"""A QuickBooks Desktop company file that executes qbXML message sets.

Pure and synchronous: text in, text out; the only outside input is the ``now`` callable (so
tests control time). Semantics follow ``shared/reference/QBWC-AND-QBXML.md``; status texts are
QuickBooks' own where the reference captured them, and marked "(unverified)" where they are
our best guess.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from lxml import etree

from sim.quickbooks.latency import LatencyModel
from sim.quickbooks.refusals import Meaning, Refusal, refusal_text
from sim.quickbooks.rets import add_value, build_ret, layout
from sim.quickbooks.state import LIST_TYPES, NAME_SPACE, TERMS_TYPES, CompanyState, load_state, save_state
from sim.quickbooks.strict import PARSE_ERROR_HRESULT, PARSE_ERROR_MESSAGE, SUPPORTED_VERSIONS, QBXMLSetError, Validator

STATUS_OK = "Status OK"
NOT_FOUND_MESSAGE = "A query request did not find a matching object in QuickBooks"
DOES_NOT_EXIST = "QuickBooks error message: Invalid argument.  The specified record does not exist in the list."
INACTIVE = "QuickBooks error message: The specified record is inactive."  # tail text (unverified)
FEATURE_OFF = "This feature is not enabled or not available in this version of QuickBooks."
# Texts below (and the codes, where the digest lists none) are our assumption, marked "(unverified)":
# QuickBooks' SDK wording for these refusals is not in the public documents we have.
CURRENCY_MISMATCH = "QuickBooks error message: The currency of the account does not match the currency of the transaction."  # (unverified)
OVER_APPLIED = "QuickBooks error message: The amount applied is more than the open balance of the bill."  # (unverified)
# Account types that carry their own currency in a multicurrency file (QuickBooks help: "income and
# expense accounts are always in your home currency"; bank, card, A/R and A/P accounts have one each).
CURRENCY_ACCOUNT_TYPES = frozenset({"Bank", "CreditCard", "AccountsReceivable", "AccountsPayable"})
# Account types where a line with a customer:job is billable by default (QuickBooks' "mark all expenses
# as billable" default, on in a new file) (unverified for the SDK: BillableStatus' default is not documented).
BILLABLE_ACCOUNT_TYPES = frozenset({"Expense", "OtherExpense", "CostOfGoodsSold"})
TWO = Decimal("0.01")
_DATETIME = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})(?:T(\d{1,2})(?::(\d{1,2})(?::(\d{1,2})([+\-]\d{1,2}:\d{1,2})?)?)?)?")


class StatusError(Exception):
    """One request failed; it answers with an attribute-only ``*Rs``."""

    def __init__(self, code: int, message: str, severity: str = "Error") -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.severity = severity


@dataclass(frozen=True)
class ProcessResult:
    """What QBXMLRP2 ProcessRequest gives the Web Connector: a response, or an HRESULT."""

    response: str
    hresult: str = ""
    message: str = ""
    busy_seconds: float = 0.0
    requests: int = 0
    writes: int = 0


@dataclass
class _Iterator:
    session: int
    kind: str
    ids: list[str]
    position: int = 0


@dataclass
class _Payable:
    """One thing a bill payment can pay: a bill, or a journal entry's A/P credit to a vendor."""

    kind: str  # "Bill" | "JournalEntry" (AppliedToTxnRet TxnType)
    rec: dict[str, Any]
    entry: dict[str, Any]  # the journal entry's _APOpen entry ({} for a bill)
    payee_id: str
    ap_id: str
    open_amount: Decimal


@dataclass
class _Work:
    queries: int = 0
    records: int = 0
    writes: int = 0
    lines: int = 0


def _local_now() -> dt.datetime:
    return dt.datetime.now().astimezone().replace(microsecond=0)


def _texts(el: etree._Element, tag: str) -> list[str]:
    return [(c.text or "") for c in el if c.tag == tag]


def _text(el: etree._Element | None, tag: str, default: str | None = None) -> str | None:
    if el is None:
        return default
    child = el.find(tag)
    return default if child is None else (child.text or "")


def _bool(value: str | None, default: bool) -> bool:
    if value is None or value.strip() == "":
        return default
    return value.strip() in ("true", "1")


def _amount(value: str | None) -> Decimal:
    try:
        return Decimal(value or "0").quantize(TWO)
    except InvalidOperation:  # the validator already refused anything else
        return Decimal("0.00")


def _money(value: Decimal) -> str:
    return f"{value:.2f}"


def _element_to_value(el: etree._Element) -> Any:
    children = [c for c in el if isinstance(c.tag, str)]
    if not children:
        return el.text or ""
    return {c.tag: _element_to_value(c) for c in children}


class CompanyFile:
    """One company file. ``begin_session``/``end_session`` bracket a Web Connector session
    (QuickBooks' BeginSession/EndSession): iterators live only inside one."""

    def __init__(
        self, state: CompanyState, *, now: Callable[[], dt.datetime] | None = None, validator: Validator | None = None, latency: LatencyModel | None = None
    ) -> None:
        self.state = state
        self._now = now or _local_now
        self.validator = validator or Validator()
        self.latency = latency or LatencyModel()
        self.session_id = 0
        self.in_session = False
        self._iterators: dict[str, _Iterator] = {}
        self._by_id: dict[str, tuple[str, dict[str, Any]]] = {}
        self._names: dict[tuple[str, str], dict[str, Any]] | None = None  # (kind, casefolded FullName) -> record
        self._balances: tuple[dict[str, Decimal], dict[str, Decimal]] | None = None  # vendor, account
        self.refusals: list[Refusal] = []  # knob: see ``refuse``
        self._reindex()

    # --- persistence ---------------------------------------------------------------------

    @classmethod
    def load(cls, path: Path, **kwargs: Any) -> CompanyFile:
        return cls(load_state(path), **kwargs)

    def save(self, path: Path) -> None:
        save_state(self.state, path)

    def _reindex(self) -> None:
        self._names = None
        self._balances = None
        self._by_id = {}
        for kind, records in self.state.lists.items():
            for rec in records:
                self._by_id[rec["ListID"]] = (kind, rec)

    # --- sessions and faults -------------------------------------------------------------

    def begin_session(self) -> None:
        self.session_id += 1
        self.in_session = True

    def end_session(self) -> None:
        # QuickBooks forgets iterators with the connection; a later Continue gets 3391.
        self.in_session = False
        self._iterators.clear()

    def simulate_user_edit(self, vendor_name: str) -> str:
        """Someone edits the vendor in QuickBooks: its EditSequence moves on. Returns the new one."""
        rec = self.find_list("Vendor", vendor_name)
        if rec is None:
            raise KeyError(vendor_name)
        self._touch(rec)
        return rec["EditSequence"]

    def refuse(self, request: str, code: int, meaning: Meaning = "lock", *, times: int | None = 1, message: str | None = None) -> Refusal:
        """Knob: refuse the next ``times`` ``request``s (``None``: all) with ``code`` and a text of the
        given meaning (``refusals.py``: a lock, or a validation failure), or ``message`` as given."""
        txn = request.removesuffix("Add").removesuffix("Mod").removesuffix("Query") or request
        refusal = Refusal(request, code, message if message is not None else refusal_text(code, meaning, txn), times)
        self.refusals.append(refusal)
        return refusal

    # --- ids and time --------------------------------------------------------------------

    def now(self) -> dt.datetime:
        return self._now()

    def _stamp(self) -> tuple[str, int]:
        now = self.now()
        return now.isoformat(timespec="seconds"), int(now.timestamp())

    def _next_edit_sequence(self, epoch: int) -> str:
        seq = max(epoch, self.state.last_edit_sequence + 1)
        self.state.last_edit_sequence = seq
        return str(seq)

    def _new_list_id(self, epoch: int) -> str:
        self.state.list_counter += 1
        return f"{0x80000000 + self.state.list_counter:08X}-{epoch}"

    def _new_txn_id(self, epoch: int) -> str:
        # Transactions (and their lines) count separately from lists and look like "1A3-1197758190"
        # in real files, so a TxnID never equals a ListID.
        self.state.txn_counter += 1
        return f"{0x100 + self.state.txn_counter:X}-{epoch}"

    def _touch(self, rec: dict[str, Any]) -> None:
        stamp, epoch = self._stamp()
        rec["TimeModified"] = stamp
        rec["EditSequence"] = self._next_edit_sequence(epoch)

    # --- list records --------------------------------------------------------------------

    def add_list_record(self, kind: str, name: str, parent_full_name: str | None = None, **fields: Any) -> dict[str, Any]:
        """Create a list element directly (seeding, tests); no uniqueness rules beyond FullName."""
        stamp, epoch = self._stamp()
        parent = self.find_list(kind, parent_full_name) if parent_full_name else None
        if parent_full_name and parent is None:
            raise KeyError(parent_full_name)
        full_name = f"{parent['FullName']}:{name}" if parent else name
        rec: dict[str, Any] = {
            "ListID": self._new_list_id(epoch),
            "TimeCreated": stamp,
            "TimeModified": stamp,
            "EditSequence": self._next_edit_sequence(epoch),
            "Name": name,
        }
        if kind in ("Account", "Class", "Customer"):
            rec["FullName"] = full_name
        rec["IsActive"] = fields.pop("IsActive", True)
        if parent is not None:
            rec["ParentRef"] = {"ListID": parent["ListID"]}
            rec["Sublevel"] = parent.get("Sublevel", 0) + 1
        elif kind in ("Account", "Class", "Customer"):
            rec["Sublevel"] = 0
        rec.update(fields)
        self.state.lists[kind].append(rec)
        self._by_id[rec["ListID"]] = (kind, rec)
        self._names = None
        return rec

    def full_name(self, rec: dict[str, Any]) -> str:
        return rec.get("FullName") or rec["Name"]

    def find_list(self, kind: str, full_name: str | None) -> dict[str, Any] | None:
        """Case-insensitive lookup by FullName (QuickBooks treats names case-insensitively)."""
        if full_name is None:
            return None
        if self._names is None:
            self._names = {(k, self.full_name(r).casefold()): r for k, recs in self.state.lists.items() for r in recs}
        return self._names.get((kind, full_name.casefold()))

    def _by_list_id(self, list_id: str, kinds: tuple[str, ...]) -> dict[str, Any] | None:
        hit = self._by_id.get(list_id)
        return hit[1] if hit and hit[0] in kinds else None

    def ref_name(self, ref: dict[str, Any] | None) -> str:
        """The current FullName behind a stored ``{"ListID": ...}`` reference ("" for none)."""
        if not ref:
            return ""
        return self._resolve_for_output(ref).get("FullName", "?")

    def _resolve_for_output(self, ref: dict[str, Any]) -> dict[str, str]:
        hit = self._by_id.get(ref.get("ListID", ""))
        if hit is None:
            return {k: v for k, v in ref.items() if not k.startswith("_")}
        return {"ListID": hit[1]["ListID"], "FullName": self.full_name(hit[1])}

    def _name_in_use(self, name: str, exclude_id: str | None = None) -> bool:
        """Customer (top level), Vendor, Employee and OtherName share one name space, inactive ones too."""
        for kind in NAME_SPACE:
            rec = self.find_list(kind, name)
            if rec is not None and rec["ListID"] != exclude_id:
                return True
        return False

    def _ref(
        self, parent: etree._Element, tag: str, kinds: tuple[str, ...], obj_type: str, txn: str, required: bool = False, need_active: bool = True
    ) -> dict[str, Any] | None:
        """Resolve ``<tag><ListID/>|<FullName/></tag>``; missing or inactive -> 3140."""
        el = parent.find(tag)
        if el is None:
            if required:
                raise StatusError(3150, f'There is a missing element: "{tag}".')
            return None
        list_id, name = _text(el, "ListID"), _text(el, "FullName")
        rec = None
        if list_id:
            rec = self._by_list_id(list_id, kinds)
            if rec is not None and name and self.full_name(rec).casefold() != name.casefold():
                rec = None  # both given and they disagree: QuickBooks refuses the reference
        elif name:
            for kind in kinds:
                rec = self.find_list(kind, name)
                if rec is not None:
                    break
        shown = name or list_id or ""
        if rec is None:
            raise StatusError(3140, f'There is an invalid reference to QuickBooks {obj_type} "{shown}" in the {txn}.  {DOES_NOT_EXIST}')
        if need_active and not rec.get("IsActive", True):
            raise StatusError(3140, f'There is an invalid reference to QuickBooks {obj_type} "{shown}" in the {txn}.  {INACTIVE}')
        return rec

    # --- the message set -----------------------------------------------------------------

    def process(self, text: str) -> ProcessResult:
        """Run a message set as QBXMLRP2 ProcessRequest would for the Web Connector."""
        work = _Work()
        try:
            response, requests = self._execute(text, work)
        except QBXMLSetError as exc:
            return ProcessResult("", exc.hresult, exc.message, self.latency.busy_seconds(0, 0, 0, 0))
        busy = self.latency.busy_seconds(work.queries, work.records, work.writes, work.lines)
        return ProcessResult(response, busy_seconds=busy, requests=requests, writes=work.writes)

    def execute(self, text: str) -> str:
        """The response message set; raises :class:`QBXMLSetError` when the set is refused whole."""
        return self._execute(text, _Work())[0]

    def _execute(self, text: str, work: _Work) -> tuple[str, int]:
        root = self.validator.check(text)
        msgs = root.find("QBXMLMsgsRq")
        if msgs is None:  # a QBXML with signon only: nothing to do
            return layout(etree.fromstring("<QBXML><QBXMLMsgsRs/></QBXML>")), 0
        on_error = msgs.get("onError")
        if on_error == "rollbackOnError":
            # OSR: "rollbackOnError is not valid" in QuickBooks Desktop (reported as a parse error here)
            raise QBXMLSetError(PARSE_ERROR_HRESULT, PARSE_ERROR_MESSAGE, "rollbackOnError")
        requests = [c for c in msgs if isinstance(c.tag, str)]
        old_id, new_id = msgs.get("oldMessageSetID"), msgs.get("newMessageSetID")
        if old_id and not requests:
            return self._recovery(old_id, new_id), 0
        out_root = etree.Element("QBXML")
        out = etree.SubElement(out_root, "QBXMLMsgsRs")
        if new_id:
            out.set("newMessageSetID", new_id)
            out.set("messageSetStatusCode", "0")
        handled = 0
        for req in requests:
            rs = self._dispatch(req, work)
            out.append(rs)
            handled += 1
            if rs.get("statusSeverity") == "Error" and on_error == "stopOnError":
                break
        text_out = layout(out_root)
        if new_id:
            self.state.message_sets[new_id] = text_out
        return text_out, handled

    def _recovery(self, old_id: str, new_id: str | None) -> str:
        stored = self.state.message_sets.get(old_id)
        if new_id == old_id:  # status check: the stored response, or 9002
            if stored is not None:
                return stored
            return layout(etree.fromstring(f'<QBXML><QBXMLMsgsRs newMessageSetID="{new_id}" messageSetStatusCode="9002"/></QBXML>'))
        # clear
        if old_id == "ClearAllMessageSets":
            self.state.message_sets.clear()
        elif stored is None:
            return layout(etree.fromstring('<QBXML><QBXMLMsgsRs messageSetStatusCode="600"/></QBXML>'))
        else:
            del self.state.message_sets[old_id]
        return layout(etree.fromstring('<QBXML><QBXMLMsgsRs messageSetStatusCode="0"/></QBXML>'))

    def _dispatch(self, req: etree._Element, work: _Work) -> etree._Element:
        kind = req.tag[:-2]  # "VendorAddRq" -> "VendorAdd"
        rs = etree.Element(kind + "Rs")
        if req.get("requestID") is not None:
            rs.set("requestID", req.get("requestID"))
        handler = _HANDLERS.get(req.tag)
        try:
            if handler is None:
                raise StatusError(1000, f"The simulator does not implement {req.tag}.")
            refusal = next((r for r in self.refusals if r.take(kind)), None)
            if refusal is not None:
                raise StatusError(refusal.code, refusal.message)
            status = handler(self, req, rs, work)
        except StatusError as err:
            for child in list(rs):
                rs.remove(child)
            for attr in ("retCount", "iteratorRemainingCount", "iteratorID"):
                rs.attrib.pop(attr, None)
            status = err
        if req.tag.endswith("QueryRq"):
            work.queries += 1
        _set_status(rs, status)
        return rs

    # --- writes --------------------------------------------------------------------------

    def _vendor_add(self, req: etree._Element, rs: etree._Element, work: _Work) -> None:
        add = req.find("VendorAdd")
        name = _text(add, "Name") or ""
        if self._name_in_use(name):
            raise StatusError(3100, f'The name "{name}" of the list element is already in use.')
        fields = self._vendor_fields(add, "Vendor")
        stamp, epoch = self._stamp()
        rec: dict[str, Any] = {
            "ListID": self._new_list_id(epoch),
            "TimeCreated": stamp,
            "TimeModified": stamp,
            "EditSequence": self._next_edit_sequence(epoch),
            "Name": name,
            "IsActive": True,
            "IsTaxAgency": False,
            "IsVendorEligibleFor1099": False,
        }
        rec.update(fields)
        rec.pop("OpenBalance", None)
        rec.pop("OpenBalanceDate", None)
        if self.state.multicurrency and "CurrencyRef" not in rec:
            rec["CurrencyRef"] = self._home_ref()  # a new name is in the home currency unless told
        self.state.lists["Vendor"].append(rec)
        self._by_id[rec["ListID"]] = ("Vendor", rec)
        self._names = None
        work.writes += 1
        rs.append(self._ret("VendorRet", "Vendor", rec, _texts(req, "IncludeRetElement")))

    def _vendor_fields(self, el: etree._Element, txn: str) -> dict[str, Any]:
        fields: dict[str, Any] = {}
        for child in el:
            if not isinstance(child.tag, str) or child.tag in ("ListID", "EditSequence", "Name"):
                continue
            if child.tag == "ClassRef":
                if not self.state.class_tracking:
                    raise StatusError(3250, FEATURE_OFF)
                fields["ClassRef"] = {"ListID": self._ref(el, "ClassRef", ("Class",), "Class", txn)["ListID"]}
            elif child.tag == "CurrencyRef":
                # Digest 4.1: 3250 when multicurrency is off; a currency not in the list is 3140.
                if not self.state.multicurrency:
                    raise StatusError(3250, FEATURE_OFF)
                fields["CurrencyRef"] = {"ListID": self._ref(el, "CurrencyRef", ("Currency",), "Currency", txn)["ListID"]}
            elif child.tag == "TermsRef":
                fields["TermsRef"] = {"ListID": self._ref(el, "TermsRef", TERMS_TYPES, "Terms", txn)["ListID"]}
            elif child.tag in ("IsActive", "IsVendorEligibleFor1099"):
                fields[child.tag] = _bool(child.text, child.tag == "IsActive")
            elif child.tag in ("Contacts", "AdditionalContactRef", "AdditionalNotes", "PrefillAccountRef", "ContactsMod", "AdditionalNotesMod"):
                continue  # not kept by the simulator
            else:
                fields[child.tag] = _element_to_value(child)
        if "VendorAddress" in fields:
            fields["VendorAddressBlock"] = _address_block(fields["VendorAddress"])
        return fields

    def _vendor_mod(self, req: etree._Element, rs: etree._Element, work: _Work) -> None:
        mod = req.find("VendorMod")
        list_id, edit_seq = _text(mod, "ListID") or "", _text(mod, "EditSequence") or ""
        rec = self._by_list_id(list_id, ("Vendor",))
        if rec is None:
            raise StatusError(3120, f'Object "{list_id}" specified in the request cannot be found.  {DOES_NOT_EXIST}')
        if rec["EditSequence"] != edit_seq:
            raise StatusError(3200, f'The provided edit sequence "{edit_seq}" is out-of-date.')
        name = _text(mod, "Name")
        if name is not None and name != rec["Name"] and self._name_in_use(name, exclude_id=list_id):
            raise StatusError(3100, f'The name "{name}" of the list element is already in use.')
        fields = self._vendor_fields(mod, "Vendor")
        if "CurrencyRef" in fields and fields["CurrencyRef"] != rec.get("CurrencyRef") and self._has_transactions(list_id):
            # QuickBooks help: a name's currency cannot change once it has transactions. Code and wording (unverified).
            raise StatusError(
                3180, "There was an error when saving a Vendor.  QuickBooks error message: You cannot change the currency of a name that has transactions."
            )
        if name is not None:
            rec["Name"] = name
            self._names = None
        for key, value in fields.items():
            if isinstance(value, dict) and isinstance(rec.get(key), dict) and key.endswith("Address"):
                value = {**rec[key], **value}
            rec[key] = value
        if "VendorAddress" in fields:
            rec["VendorAddressBlock"] = _address_block(rec["VendorAddress"])
        self._touch(rec)
        work.writes += 1
        rs.append(self._ret("VendorRet", "Vendor", rec, _texts(req, "IncludeRetElement")))

    def _txn_date(self, el: etree._Element, txn: str) -> dt.date:
        raw = _text(el, "TxnDate")
        date = dt.date.fromisoformat(raw) if raw else self.now().date()
        closing = self.state.closing_date
        if closing and date <= dt.date.fromisoformat(closing):
            # Code and wording (unverified): QuickBooks refuses edits on or before the closing date.
            raise StatusError(
                3180,
                f"There was an error when saving a {txn}.  QuickBooks error message: "
                f"The transaction date {date.isoformat()} is on or before the closing date "
                f"{closing} of this company file.",
            )
        return date

    def _class_ref(self, line: etree._Element, txn: str) -> dict[str, Any] | None:
        if line.find("ClassRef") is None:
            return None
        if not self.state.class_tracking:
            raise StatusError(3250, FEATURE_OFF)
        return {"ListID": self._ref(line, "ClassRef", ("Class",), "Class", txn)["ListID"]}

    # --- currencies, terms, billable -------------------------------------------------------

    def _home_ref(self) -> dict[str, Any]:
        home = self.find_list("Currency", self.state.home_currency)
        return {"ListID": home["ListID"]} if home is not None else {"FullName": self.state.home_currency}

    def currency_of(self, rec: dict[str, Any]) -> str:
        """The currency name of a vendor or account (home currency when it carries none)."""
        ref = rec.get("CurrencyRef")
        return self.ref_name(ref) if ref else self.state.home_currency

    def _has_transactions(self, list_id: str) -> bool:
        return any(list_id in self._txn_entities(t) | self._txn_accounts(t) for kind in self.state.txns for t in self.state.txns[kind])

    def _exchange_rate(self, el: etree._Element, currency: str, txn: str) -> Decimal:
        """ExchangeRate (home-currency units per foreign unit, as QuickBooks' Currency list keeps it).

        Sent on a multicurrency-off file: 3250 (digest 4.1, "Config (classes, multicurrency)").
        On a home-currency transaction the rate is always 1 (an ExchangeRate sent there is ignored:
        assumption). A foreign one without a rate takes the Currency list's latest rate, as the
        QuickBooks forms do; with neither, 3150 missing element (unverified)."""
        raw = _text(el, "ExchangeRate")
        if raw is not None and not self.state.multicurrency:
            raise StatusError(3250, FEATURE_OFF)
        if currency == self.state.home_currency:
            return Decimal(1)
        if raw:
            rate = Decimal(raw)
            if rate <= 0:
                raise StatusError(
                    3210, f'The "ExchangeRate" field has an invalid value "{raw}".  QuickBooks error message: The exchange rate must be greater than zero.'
                )  # (unverified)
            return rate
        listed = self.find_list("Currency", currency)
        if listed is not None and listed.get("ExchangeRate"):
            return Decimal(listed["ExchangeRate"])
        raise StatusError(3150, 'There is a missing element: "ExchangeRate".')  # (unverified) for a currency without a rate

    def _due_date(self, txn_date: dt.date, terms: dict[str, Any] | None) -> dt.date:
        """No DueDate sent: from the terms (StdDueDays / DayOfMonthDue), else the preference
        DaysBillsAreDue (10, as PreferencesQuery answers)."""
        if terms is None:
            return txn_date + dt.timedelta(days=10)
        if "StdDueDays" in terms:
            return txn_date + dt.timedelta(days=int(terms["StdDueDays"]))
        day = int(terms.get("DayOfMonthDue", 1))
        month = dt.date(txn_date.year + txn_date.month // 12, txn_date.month % 12 + 1, 1)
        # DueNextMonthDays: within that many days of the due day, the bill is due the month after (OSR).
        this_month = txn_date.replace(day=min(day, 28))
        if this_month >= txn_date and (this_month - txn_date).days >= int(terms.get("DueNextMonthDays", 0)):
            return this_month
        return month.replace(day=min(day, 28))

    def _billable(self, line: etree._Element, customer: dict[str, Any] | None, account: dict[str, Any]) -> str | None:
        """BillableStatus as stored: what was sent; else Billable for a customer:job on an expense
        account (QuickBooks' default, see BILLABLE_ACCOUNT_TYPES); NotBillable otherwise. A line with
        no customer cannot be billed: whatever is sent, it is stored NotBillable (assumption)."""
        sent = _text(line, "BillableStatus")
        if customer is None:
            return "NotBillable"
        if sent:
            return sent
        return "Billable" if account.get("AccountType") in BILLABLE_ACCOUNT_TYPES else "NotBillable"

    def _ap_account(self, add: etree._Element, vendor: dict[str, Any], txn: str) -> dict[str, Any]:
        """The bill's A/P account: the one sent (must be A/P, and in the vendor's currency), else the
        first active A/P account in the vendor's currency. QuickBooks keeps one A/P account per
        currency and a bill in a vendor's currency posts to it (digest 3.4: "the currency comes from
        the vendor"). Refusal texts (unverified)."""
        currency = self.currency_of(vendor)
        if add.find("APAccountRef") is not None:
            ap = self._ref(add, "APAccountRef", ("Account",), "Account", txn, required=True)
            assert ap is not None  # required: a missing reference raised 3140
            if ap.get("AccountType") != "AccountsPayable":
                raise StatusError(
                    3140,
                    f'There is an invalid reference to QuickBooks Account "{self.full_name(ap)}" in the {txn}.  '
                    "QuickBooks error message: The account must be an Accounts Payable account.",
                )
            if self.state.multicurrency and self.currency_of(ap) != currency:
                raise StatusError(3140, f'There is an invalid reference to QuickBooks Account "{self.full_name(ap)}" in the {txn}.  {CURRENCY_MISMATCH}')
            return ap
        ap = next(
            (
                a
                for a in self.state.lists["Account"]
                if a.get("AccountType") == "AccountsPayable" and a["IsActive"] and (not self.state.multicurrency or self.currency_of(a) == currency)
            ),
            None,
        )
        if ap is None:
            # The QuickBooks form would create "Accounts Payable - <code>"; through the SDK we assume it does not.
            raise StatusError(3140, f'There is an invalid reference to QuickBooks Account "Accounts Payable" in the {txn}.  {DOES_NOT_EXIST}')
        return ap

    def _bill_add(self, req: etree._Element, rs: etree._Element, work: _Work) -> None:
        add = req.find("BillAdd")
        txn = "Bill"
        if add.find("ItemLineAdd") is not None or add.find("ItemGroupLineAdd") is not None or add.find("LinkToTxnID") is not None:
            raise StatusError(1000, "The simulator does not implement item lines or linked transactions on bills.")
        vendor = self._ref(add, "VendorRef", ("Vendor",), "Vendor", txn, required=True)
        ap = self._ap_account(add, vendor, txn)
        currency = self.currency_of(vendor)
        rate = self._exchange_rate(add, currency, txn)
        txn_date = self._txn_date(add, txn)
        terms = self._ref(add, "TermsRef", TERMS_TYPES, "Terms", txn)
        due = _text(add, "DueDate")
        lines: list[dict[str, Any]] = []
        total = Decimal("0.00")
        _, epoch = self._stamp()
        for line in add.findall("ExpenseLineAdd"):
            account = self._ref(line, "AccountRef", ("Account",), "Account", txn, required=True)
            if (
                self.state.multicurrency
                and str(account.get("AccountType")) in CURRENCY_ACCOUNT_TYPES
                and self.currency_of(account) not in (currency, self.state.home_currency)
            ):
                raise StatusError(3140, f'There is an invalid reference to QuickBooks Account "{self.full_name(account)}" in the {txn}.  {CURRENCY_MISMATCH}')
            amount = _amount(_text(line, "Amount"))
            total += amount
            entry: dict[str, Any] = {"TxnLineID": self._new_txn_id(epoch), "AccountRef": {"ListID": account["ListID"]}, "Amount": _money(amount)}
            if _text(line, "Memo") is not None:
                entry["Memo"] = _text(line, "Memo")
            customer = self._ref(line, "CustomerRef", ("Customer",), "Customer", txn)
            if customer is not None:
                entry["CustomerRef"] = {"ListID": customer["ListID"]}
            klass = self._class_ref(line, txn)
            if klass is not None:
                entry["ClassRef"] = klass
            entry["BillableStatus"] = self._billable(line, customer, account)
            lines.append(entry)
        stamp, epoch = self._stamp()
        self.state.txn_number += 1
        rec: dict[str, Any] = {
            "TxnID": self._new_txn_id(epoch),
            "TimeCreated": stamp,
            "TimeModified": stamp,
            "EditSequence": self._next_edit_sequence(epoch),
            "TxnNumber": self.state.txn_number,
            "VendorRef": {"ListID": vendor["ListID"]},
        }
        address = add.find("VendorAddress")
        if address is not None:
            rec["VendorAddress"] = _element_to_value(address)
        rec.update(
            {
                "APAccountRef": {"ListID": ap["ListID"]},
                "TxnDate": txn_date.isoformat(),
                "DueDate": due or self._due_date(txn_date, terms).isoformat(),
                "AmountDue": _money(total),
            }
        )
        if self.state.multicurrency:
            rec["CurrencyRef"] = vendor.get("CurrencyRef") or self._home_ref()
            rec["ExchangeRate"] = str(rate)
            rec["AmountDueInHomeCurrency"] = _money((total * rate).quantize(TWO))
        if _text(add, "RefNumber") is not None:
            rec["RefNumber"] = _text(add, "RefNumber")
        if terms is not None:
            rec["TermsRef"] = {"ListID": terms["ListID"]}
        if _text(add, "Memo") is not None:
            rec["Memo"] = _text(add, "Memo")
        rec["IsPaid"] = total == 0
        if _text(add, "ExternalGUID"):
            rec["ExternalGUID"] = _text(add, "ExternalGUID")
        rec["LinkedTxn"] = []
        rec["ExpenseLineRet"] = lines
        rec["OpenAmount"] = _money(total)
        self.state.txns["Bill"].append(rec)
        self._balances = None
        work.writes += 1
        work.lines += len(lines)
        rs.append(self._ret("BillRet", "Bill", rec, _texts(req, "IncludeRetElement")))

    def _journal_entry_add(self, req: etree._Element, rs: etree._Element, work: _Work) -> None:
        """Multicurrency rule (QuickBooks help, "Using multiple currencies"; the 13.0 XSD gives
        JournalEntryAdd one CurrencyRef/ExchangeRate for the whole entry): an entry has one
        currency, home unless CurrencyRef says otherwise; a line may use an account in the home
        currency or in the entry's currency, never a third; an A/P or A/R line's name must be in
        that account's currency. In a single-currency file CurrencyRef/ExchangeRate give 3250.
        Refusal codes and texts (unverified)."""
        add = req.find("JournalEntryAdd")
        txn = "JournalEntry"
        if not self.state.multicurrency and any(
            add.find(t) is not None for t in ("CurrencyRef", "ExchangeRate", "IsHomeCurrencyAdjustment", "IsAmountsEnteredInHomeCurrency")
        ):
            raise StatusError(3250, FEATURE_OFF)
        currency_rec = self._ref(add, "CurrencyRef", ("Currency",), "Currency", txn)
        currency = self.full_name(currency_rec) if currency_rec is not None else self.state.home_currency
        rate = self._exchange_rate(add, currency, txn)
        txn_date = self._txn_date(add, txn)
        debits = credits = Decimal("0.00")
        lines: list[dict[str, Any]] = []
        _, epoch = self._stamp()
        for line in add:
            if line.tag not in ("JournalDebitLine", "JournalCreditLine"):
                continue
            account = self._ref(line, "AccountRef", ("Account",), "Account", txn, required=True)
            amount = _amount(_text(line, "Amount"))
            if line.tag == "JournalDebitLine":
                debits += amount
            else:
                credits += amount
            entry: dict[str, Any] = {
                "_tag": line.tag,
                "TxnLineID": self._new_txn_id(epoch),
                "AccountRef": {"ListID": account["ListID"]},
                "Amount": _money(amount),
            }
            if _text(line, "Memo") is not None:
                entry["Memo"] = _text(line, "Memo")
            entity = self._ref(line, "EntityRef", NAME_SPACE, "Entity", txn)
            atype = account.get("AccountType")
            if atype == "AccountsPayable" and (entity is None or self._by_id[entity["ListID"]][0] != "Vendor"):
                # Wording (unverified); QuickBooks' rule: an A/P line needs a vendor in the Name column.
                raise StatusError(
                    3180,
                    f"There was an error when saving a {txn}.  QuickBooks error message: "
                    "You must specify a vendor in the Name column when posting to an Accounts Payable account.",
                )
            if atype == "AccountsReceivable" and (entity is None or self._by_id[entity["ListID"]][0] != "Customer"):
                raise StatusError(
                    3180,
                    f"There was an error when saving a {txn}.  QuickBooks error message: "
                    "You must specify a customer in the Name column when posting to an Accounts Receivable account.",
                )
            if self.state.multicurrency:
                account_currency = self.currency_of(account)
                if account_currency not in (self.state.home_currency, currency):
                    raise StatusError(
                        3180,
                        f"There was an error when saving a {txn}.  {CURRENCY_MISMATCH} "
                        f'(account "{self.full_name(account)}" is in {account_currency}, the entry in {currency})',
                    )
                if atype in ("AccountsPayable", "AccountsReceivable") and entity is not None and self.currency_of(entity) != account_currency:
                    raise StatusError(
                        3180,
                        f"There was an error when saving a {txn}.  QuickBooks error message: "
                        f'The currency of "{self.full_name(entity)}" does not match the currency of account '
                        f'"{self.full_name(account)}".',
                    )  # (unverified)
            if entity is not None:
                entry["EntityRef"] = {"ListID": entity["ListID"]}
            klass = self._class_ref(line, txn)
            if klass is not None:
                entry["ClassRef"] = klass
            customer = entity if entity is not None and self._by_id[entity["ListID"]][0] == "Customer" else None
            if customer is not None or _text(line, "BillableStatus"):
                entry["BillableStatus"] = self._billable(line, customer, account)
            lines.append(entry)
        if debits != credits:
            # Code and wording (unverified): QuickBooks will not save an unbalanced journal entry.
            raise StatusError(
                3180,
                f"There was an error when saving a {txn}.  QuickBooks error message: "
                f"Transaction not in balance (debits {_money(debits)}, credits {_money(credits)}).",
            )
        stamp, epoch = self._stamp()
        self.state.txn_number += 1
        rec: dict[str, Any] = {
            "TxnID": self._new_txn_id(epoch),
            "TimeCreated": stamp,
            "TimeModified": stamp,
            "EditSequence": self._next_edit_sequence(epoch),
            "TxnNumber": self.state.txn_number,
            "TxnDate": txn_date.isoformat(),
        }
        ref = _text(add, "RefNumber")
        if ref is None and self.state.assigning_je_numbers:
            ref = str(self.state.txn_number)
        if ref is not None:
            rec["RefNumber"] = ref
        if _text(add, "Memo") is not None:
            rec["Memo"] = _text(add, "Memo")
        rec["IsAdjustment"] = _bool(_text(add, "IsAdjustment"), False)
        if self.state.multicurrency:
            rec["IsHomeCurrencyAdjustment"] = _bool(_text(add, "IsHomeCurrencyAdjustment"), False)
            rec["IsAmountsEnteredInHomeCurrency"] = _bool(_text(add, "IsAmountsEnteredInHomeCurrency"), False)
            rec["CurrencyRef"] = {"ListID": currency_rec["ListID"]} if currency_rec is not None else self._home_ref()
            rec["ExchangeRate"] = str(rate)
        if _text(add, "ExternalGUID"):
            rec["ExternalGUID"] = _text(add, "ExternalGUID")
        rec["Lines"] = lines
        rec["_APOpen"] = self._ap_credits(lines)
        self.state.txns["JournalEntry"].append(rec)
        self._balances = None
        work.writes += 1
        work.lines += len(lines)
        rs.append(self._ret("JournalEntryRet", "JournalEntry", rec, _texts(req, "IncludeRetElement")))

    def _ap_credits(self, lines: list[dict[str, Any]]) -> list[dict[str, str]]:
        """A journal entry's net A/P credit per (vendor, A/P account): what Pay Bills offers to pay."""
        net: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
        for line in lines:
            account = self._by_id[line["AccountRef"]["ListID"]][1]
            if account.get("AccountType") == "AccountsPayable" and "EntityRef" in line:
                sign = 1 if line["_tag"] == "JournalCreditLine" else -1
                net[(line["EntityRef"]["ListID"], account["ListID"])] += sign * Decimal(line["Amount"])
        return [{"Payee": payee, "Account": ap, "Open": _money(amount)} for (payee, ap), amount in net.items() if amount > 0]

    def _bill_payment_check_add(self, req: etree._Element, rs: etree._Element, work: _Work) -> None:
        """Pay Bills by check (13.0 XSD ``BillPaymentCheckAdd``): from a Bank account, applied to
        open bills of the payee. Each application lowers the bill's OpenAmount; a bill at zero is
        IsPaid and shows the payment in LinkedTxn (IncludeLinkedTxns). Refused, with codes and texts
        (unverified) where the digest has none:
        - a bill that is not the payee's, an A/P account other than the bill's, a bank account not in
          the home or the payee's currency: 3140 invalid reference;
        - TxnID neither a bill nor a journal entry with an open A/P credit: 3120 (digest 4.1);
        - a journal entry's A/P credit to the payee is paid like a bill: the XSD's BillToPay
          carries a TxnType (not only Bill) and QuickBooks' Pay Bills lists such credits; that the
          SDK accepts them in AppliedToTxnAdd is our assumption (unverified);
        - PaymentAmount above the bill's open balance, or the same bill twice: 3210 (OVER_APPLIED);
        - no PaymentAmount: the whole open balance is paid (assumption; the XSD leaves it optional
          for SetCredit-only applications)."""
        add = req.find("BillPaymentCheckAdd")
        txn = "BillPaymentCheck"
        payee = self._ref(add, "PayeeEntityRef", NAME_SPACE, "Entity", txn, required=True)
        bank = self._ref(add, "BankAccountRef", ("Account",), "Account", txn, required=True)
        if bank.get("AccountType") != "Bank":
            raise StatusError(
                3140,
                f'There is an invalid reference to QuickBooks Account "{self.full_name(bank)}" in the {txn}.  '
                "QuickBooks error message: The account must be a bank account.",
            )  # (unverified)
        currency = self.currency_of(payee) if self._by_id[payee["ListID"]][0] == "Vendor" else self.state.home_currency
        if self.state.multicurrency and self.currency_of(bank) not in (currency, self.state.home_currency):
            raise StatusError(3140, f'There is an invalid reference to QuickBooks Account "{self.full_name(bank)}" in the {txn}.  {CURRENCY_MISMATCH}')
        ap = self._ref(add, "APAccountRef", ("Account",), "Account", txn)
        rate = self._exchange_rate(add, currency, txn)
        txn_date = self._txn_date(add, txn)
        applied: list[tuple[_Payable, Decimal]] = []
        for app in add.findall("AppliedToTxnAdd"):
            txn_id = _text(app, "TxnID") or ""
            item = self._payable(txn_id, payee["ListID"])
            if item is None:
                raise StatusError(3120, f'Object "{txn_id}" specified in the request cannot be found.  {DOES_NOT_EXIST}')
            if item.payee_id != payee["ListID"]:
                raise StatusError(
                    3140,
                    f'There is an invalid reference to QuickBooks {item.kind} "{txn_id}" in the {txn}.  '
                    "QuickBooks error message: The transaction is not a bill of this payee.",
                )  # (unverified)
            if ap is None:
                ap = self._by_id[item.ap_id][1]
            elif item.ap_id != ap["ListID"]:
                raise StatusError(
                    3140,
                    f'There is an invalid reference to QuickBooks Account "{self.full_name(ap)}" in the {txn}.  '
                    "QuickBooks error message: The bill was not entered to this Accounts Payable account.",
                )  # (unverified)
            raw = _text(app, "PaymentAmount")
            amount = _amount(raw) if raw is not None else item.open_amount
            already = sum((a for i, a in applied if i.rec is item.rec), Decimal("0.00"))
            if amount <= 0 or amount + already > item.open_amount:
                raise StatusError(3210, f'The "PaymentAmount" field has an invalid value "{_money(amount)}".  {OVER_APPLIED}')
            applied.append((item, amount))
        if not applied:
            raise StatusError(3150, 'There is a missing element: "AppliedToTxnAdd".')
        stamp, epoch = self._stamp()
        self.state.txn_number += 1
        total = sum((a for _, a in applied), Decimal("0.00"))
        rec: dict[str, Any] = {
            "TxnID": self._new_txn_id(epoch),
            "TimeCreated": stamp,
            "TimeModified": stamp,
            "EditSequence": self._next_edit_sequence(epoch),
            "TxnNumber": self.state.txn_number,
            "PayeeEntityRef": {"ListID": payee["ListID"]},
            "APAccountRef": {"ListID": ap["ListID"]},
            "TxnDate": txn_date.isoformat(),
            "BankAccountRef": {"ListID": bank["ListID"]},
            "Amount": _money(total),
        }
        if self.state.multicurrency:
            rec["CurrencyRef"] = payee.get("CurrencyRef") or self._home_ref()
            rec["ExchangeRate"] = str(rate)
            rec["AmountInHomeCurrency"] = _money((total * rate).quantize(TWO))
        for key in ("RefNumber", "Memo"):
            if _text(add, key) is not None:
                rec[key] = _text(add, key)
        rec["IsToBePrinted"] = _bool(_text(add, "IsToBePrinted"), False)
        if _text(add, "ExternalGUID"):
            rec["ExternalGUID"] = _text(add, "ExternalGUID")
        rec["AppliedToTxnRet"] = []
        for item, amount in applied:
            remaining = item.open_amount - amount
            target = item.rec
            if item.kind == "Bill":
                target["OpenAmount"] = _money(remaining)
                target["IsPaid"] = remaining == 0
                # LinkedTxn Amount sign as QuickBooks shows a payment against a bill (negative): (unverified)
                target.setdefault("LinkedTxn", []).append(
                    {
                        "TxnID": rec["TxnID"],
                        "TxnType": "BillPaymentCheck",
                        "TxnDate": rec["TxnDate"],
                        "RefNumber": rec.get("RefNumber"),
                        "LinkType": "AMTTYPE",
                        "Amount": _money(-amount),
                    }
                )
            else:
                item.entry["Open"] = _money(remaining)
            self._touch(target)
            rec["AppliedToTxnRet"].append(
                {
                    "TxnID": target["TxnID"],
                    "TxnType": item.kind,
                    "TxnDate": target["TxnDate"],
                    "RefNumber": target.get("RefNumber"),
                    "BalanceRemaining": _money(remaining),
                    "Amount": _money(amount),
                }
            )
        self.state.txns["BillPaymentCheck"].append(rec)
        self._balances = None
        work.writes += 1
        work.lines += len(applied)
        rs.append(self._ret("BillPaymentCheckRet", "BillPaymentCheck", rec, _texts(req, "IncludeRetElement")))

    def _payable(self, txn_id: str, payee_id: str) -> _Payable | None:
        """What a bill payment can apply to: a bill, or a journal entry's open A/P credit (to
        ``payee_id`` when it has several)."""
        bill = next((b for b in self.state.txns["Bill"] if b["TxnID"] == txn_id), None)
        if bill is not None:
            return _Payable("Bill", bill, {}, bill["VendorRef"]["ListID"], bill["APAccountRef"]["ListID"], Decimal(bill["OpenAmount"]))
        je = next((j for j in self.state.txns["JournalEntry"] if j["TxnID"] == txn_id), None)
        entries = (je or {}).get("_APOpen", [])
        if not entries:
            return None
        entry = next((e for e in entries if e["Payee"] == payee_id), entries[0])
        return _Payable("JournalEntry", je, entry, entry["Payee"], entry["Account"], Decimal(entry["Open"]))  # type: ignore[arg-type]

    def _open_payables(self, payee_id: str) -> list[_Payable]:
        items = [self._payable(b["TxnID"], payee_id) for b in self.state.txns["Bill"] if b["VendorRef"]["ListID"] == payee_id]
        items += [self._payable(j["TxnID"], payee_id) for j in self.state.txns["JournalEntry"] if any(e["Payee"] == payee_id for e in j.get("_APOpen", []))]
        return [i for i in items if i is not None and i.payee_id == payee_id and i.open_amount > 0]

    def _bill_to_pay_query(self, req: etree._Element, rs: etree._Element, work: _Work) -> StatusError | None:
        """Pay Bills' list for one payee (13.0 XSD BillToPayQuery): open bills and open A/P credits
        of journal entries, each with its A/P account and what is still due."""
        payee = self._ref(req, "PayeeEntityRef", NAME_SPACE, "Entity", "BillToPayQuery", required=True, need_active=False)
        ap_filter = self._ref(req, "APAccountRef", ("Account",), "Account", "BillToPayQuery", need_active=False)
        items = [i for i in self._open_payables(payee["ListID"]) if ap_filter is None or i.ap_id == ap_filter["ListID"]]
        for item in items:
            rec = item.rec
            ret = etree.SubElement(etree.SubElement(rs, "BillToPayRet"), "BillToPay")
            view = {
                "TxnID": rec["TxnID"],
                "TxnType": item.kind,
                "APAccountRef": {"ListID": item.ap_id},
                "TxnDate": rec["TxnDate"],
                "RefNumber": rec.get("RefNumber"),
                "DueDate": rec.get("DueDate"),
                "AmountDue": _money(item.open_amount),
            }
            for key, value in view.items():
                add_value(ret, key, value, self._resolve_for_output)
        work.records += len(items)
        return None if items else StatusError(1, NOT_FOUND_MESSAGE, "Info")

    # --- queries -------------------------------------------------------------------------

    def _ret(self, tag: str, kind: str, rec: dict[str, Any], include: list[str], with_lines: bool = True, with_linked: bool = False) -> etree._Element:
        view = rec
        if kind == "Bill" and not with_linked and rec.get("LinkedTxn"):
            view = {**rec, "LinkedTxn": None}  # LinkedTxn only with IncludeLinkedTxns (13.0 XSD BillQuery)
        if kind == "Vendor" and (not include or "Balance" in include):
            view = {**rec, "Balance": _money(self._vendor_balance(rec["ListID"]))}
        elif kind == "Account" and (not include or {"Balance", "TotalBalance"} & set(include)):
            bal = self._account_balance(rec["ListID"])
            view = {**rec, "Balance": _money(bal), "TotalBalance": _money(bal)}
        elif kind == "Customer" and (not include or {"Balance", "TotalBalance"} & set(include)):
            view = {**rec, "Balance": "0.00", "TotalBalance": "0.00"}
        return build_ret(tag, kind, view, self._resolve_for_output, include, with_lines)

    def _balance_maps(self) -> tuple[dict[str, Decimal], dict[str, Decimal]]:
        """Open balance per vendor and balance per account, recomputed only after a new transaction."""
        if self._balances is None:
            vendors: dict[str, Decimal] = defaultdict(Decimal)
            accounts: dict[str, Decimal] = defaultdict(Decimal)
            for bill in self.state.txns["Bill"]:
                vendors[bill["VendorRef"]["ListID"]] += Decimal(bill["OpenAmount"])
                accounts[bill["APAccountRef"]["ListID"]] += Decimal(bill["AmountDue"])
                for line in bill["ExpenseLineRet"]:
                    accounts[line["AccountRef"]["ListID"]] += Decimal(line["Amount"])
            for je in self.state.txns["JournalEntry"]:
                for line in je["Lines"]:
                    sign = 1 if line["_tag"] == "JournalDebitLine" else -1
                    accounts[line["AccountRef"]["ListID"]] += sign * Decimal(line["Amount"])
            for je in self.state.txns["JournalEntry"]:
                for entry in je.get("_APOpen", []):
                    vendors[entry["Payee"]] += Decimal(entry["Open"])
            for payment in self.state.txns.get("BillPaymentCheck", []):
                accounts[payment["APAccountRef"]["ListID"]] -= Decimal(payment["Amount"])
                accounts[payment["BankAccountRef"]["ListID"]] -= Decimal(payment["Amount"])
            self._balances = (dict(vendors), dict(accounts))
        return self._balances

    def _vendor_balance(self, list_id: str) -> Decimal:
        return self._balance_maps()[0].get(list_id, Decimal("0.00"))

    def _account_balance(self, list_id: str) -> Decimal:
        return self._balance_maps()[1].get(list_id, Decimal("0.00"))

    def _parse_when(self, raw: str, end_of_day: bool = False) -> dt.datetime:
        """DATETIMETYPE as the XSD allows it: ``2024-1-5``, ``2024-01-05T7``, ``...T07:30:00-05:00``."""
        m = _DATETIME.fullmatch(raw.strip())
        if m is None:
            raise StatusError(3020, f'There was an error converting the date "{raw}".')  # wording (unverified)
        year, month, day, hour, minute, second, tz = m.groups()
        if hour is None and end_of_day:
            hour, minute, second = "23", "59", "59"
        try:
            value = dt.datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0))
        except ValueError:
            raise StatusError(3020, f'There was an error converting the date "{raw}".') from None
        if tz:
            sign = -1 if tz[0] == "-" else 1
            hh, mm = tz[1:].split(":")
            value = value.replace(tzinfo=dt.timezone(sign * dt.timedelta(hours=int(hh), minutes=int(mm))))
        if value.tzinfo is None:
            value = value.replace(tzinfo=self.now().tzinfo)
        return value

    def _modified_ok(self, rec: dict[str, Any], frm: str | None, to: str | None) -> bool:
        modified = dt.datetime.fromisoformat(rec["TimeModified"])
        if frm and modified < self._parse_when(frm):
            return False
        return not (to and modified > self._parse_when(to, end_of_day=True))

    def _list_query(self, req: etree._Element, rs: etree._Element, work: _Work, kinds: tuple[str, ...]) -> StatusError | None:
        include = _texts(req, "IncludeRetElement")
        ids, names = _texts(req, "ListID"), _texts(req, "FullName")
        if req.get("iterator") in ("Continue", "Stop"):
            return self._iterate(req, rs, work, include)
        missing = None
        if ids or names:
            found: list[tuple[str, dict[str, Any]]] = []
            for list_id in ids:
                rec = self._by_list_id(list_id, kinds)
                if rec is None:
                    missing = missing or list_id
                else:
                    found.append((self._by_id[list_id][0], rec))
            for name in names:
                hit = next(((k, r) for k in kinds if (r := self.find_list(k, name)) is not None), None)
                if hit is None:
                    missing = missing or name
                else:
                    found.append(hit)
        else:
            found = [(k, r) for k in kinds for r in self.state.lists[k]]
            status = _text(req, "ActiveStatus", "ActiveOnly")
            if status == "ActiveOnly":
                found = [(k, r) for k, r in found if r.get("IsActive", True)]
            elif status == "InactiveOnly":
                found = [(k, r) for k, r in found if not r.get("IsActive", True)]
            frm, to = _text(req, "FromModifiedDate"), _text(req, "ToModifiedDate")
            if frm or to:
                found = [(k, r) for k, r in found if self._modified_ok(r, frm, to)]
            name_filter = req.find("NameFilter")
            if name_filter is not None:
                crit, needle = _text(name_filter, "MatchCriterion"), (_text(name_filter, "Name") or "").casefold()
                test = {"StartsWith": str.startswith, "Contains": str.__contains__, "EndsWith": str.endswith}[crit]
                found = [(k, r) for k, r in found if test(self.full_name(r).casefold(), needle)]
            range_filter = req.find("NameRangeFilter")
            if range_filter is not None:
                lo, hi = (_text(range_filter, "FromName") or "").casefold(), _text(range_filter, "ToName")
                found = [(k, r) for k, r in found if self.full_name(r).casefold() >= lo and (hi is None or self.full_name(r).casefold() <= hi.casefold())]
            types = set(_texts(req, "AccountType"))
            if types:
                found = [(k, r) for k, r in found if r.get("AccountType") in types]
            found.sort(key=lambda kr: self.full_name(kr[1]).casefold())
        return self._answer(req, rs, work, found, include, missing)

    def _answer(
        self,
        req: etree._Element,
        rs: etree._Element,
        work: _Work,
        found: list[tuple[str, dict[str, Any]]],
        include: list[str],
        missing: str | None,
        with_lines: bool = True,
    ) -> StatusError | None:
        max_returned = _text(req, "MaxReturned")
        limit = int(max_returned) if max_returned else None
        if req.get("iterator") == "Start":
            iterator_id = "{" + str(uuid.uuid4()) + "}"
            ids = [r.get("ListID") or r.get("TxnID") for _, r in found]
            page = found[: limit if limit is not None else len(found)]
            remaining = len(found) - len(page)
            kind = found[0][0] if found else ""
            if remaining:
                self._iterators[iterator_id] = _Iterator(self.session_id, kind, ids, len(page))
            rs.set("retCount", str(len(page)))
            rs.set("iteratorRemainingCount", str(remaining))
            rs.set("iteratorID", iterator_id)
            found = page
        elif limit is not None:
            found = found[:limit]
        with_linked = _bool(_text(req, "IncludeLinkedTxns"), False)
        for kind, rec in found:
            rs.append(self._ret(_RET_TAG[kind], kind, rec, include, with_lines, with_linked))
        work.records += len(found)
        if missing is not None:
            return StatusError(
                500,
                f'The query request has not been fully completed. There was a required element ("{missing}") that could not be found in QuickBooks.',
                "Warn",
            )
        if not found:
            return StatusError(1, NOT_FOUND_MESSAGE, "Info")
        return None

    def _iterate(self, req: etree._Element, rs: etree._Element, work: _Work, include: list[str]) -> StatusError | None:
        iterator_id = req.get("iteratorID") or ""
        it = self._iterators.get(iterator_id)
        if it is None or it.session != self.session_id:
            raise StatusError(3391, f'The iteratorID "{iterator_id}" is not valid.')  # wording (unverified)
        if req.get("iterator") == "Stop":
            del self._iterators[iterator_id]
            rs.set("retCount", "0")
            rs.set("iteratorRemainingCount", "0")
            rs.set("iteratorID", iterator_id)
            return None
        max_returned = _text(req, "MaxReturned")
        size = int(max_returned) if max_returned else len(it.ids)
        chunk = it.ids[it.position : it.position + size]
        it.position += len(chunk)
        remaining = len(it.ids) - it.position
        if remaining == 0:
            del self._iterators[iterator_id]
        if it.kind in self.state.txns:
            txns = {t["TxnID"]: (it.kind, t) for t in self.state.txns[it.kind]}
            found = [txns[i] for i in chunk if i in txns]
        else:
            found = [self._by_id[i] for i in chunk if i in self._by_id]
        rs.set("retCount", str(len(found)))
        rs.set("iteratorRemainingCount", str(remaining))
        rs.set("iteratorID", iterator_id)
        with_lines = _bool(_text(req, "IncludeLineItems"), False)
        with_linked = _bool(_text(req, "IncludeLinkedTxns"), False)
        for kind, rec in found:
            rs.append(self._ret(_RET_TAG[kind], kind, rec, include, with_lines, with_linked))
        work.records += len(found)
        return None

    def _txn_query(self, req: etree._Element, rs: etree._Element, work: _Work, kind: str) -> StatusError | None:
        include = _texts(req, "IncludeRetElement")
        with_lines = _bool(_text(req, "IncludeLineItems"), False)
        if req.get("iterator") in ("Continue", "Stop"):
            return self._iterate(req, rs, work, include)
        txns = self.state.txns[kind]
        missing = None
        txn_ids = _texts(req, "TxnID")
        refs, refs_cs = _texts(req, "RefNumber"), _texts(req, "RefNumberCaseSensitive")
        if txn_ids:
            found = []
            for txn_id in txn_ids:
                rec = next((t for t in txns if t["TxnID"] == txn_id), None)
                if rec is None:
                    missing = missing or txn_id
                else:
                    found.append((kind, rec))
        elif refs or refs_cs:
            wanted = {r.casefold() for r in refs}
            found = [(kind, t) for t in txns if ("RefNumber" in t) and (t["RefNumber"].casefold() in wanted or t["RefNumber"] in refs_cs)]
        else:
            found = [(kind, t) for t in txns]
            mod = req.find("ModifiedDateRangeFilter")
            if mod is not None:
                frm, to = _text(mod, "FromModifiedDate"), _text(mod, "ToModifiedDate")
                found = [(k, t) for k, t in found if self._modified_ok(t, frm, to)]
            dates = req.find("TxnDateRangeFilter")
            if dates is not None:
                frm, to = _text(dates, "FromTxnDate"), _text(dates, "ToTxnDate")
                found = [(k, t) for k, t in found if (not frm or t["TxnDate"] >= frm) and (not to or t["TxnDate"] <= to)]
            entity = req.find("EntityFilter")
            if entity is not None:
                ids = self._filter_ids(entity, NAME_SPACE)
                found = [(k, t) for k, t in found if self._txn_entities(t) & ids]
            account = req.find("AccountFilter")
            if account is not None:
                ids = self._filter_ids(account, ("Account",))
                found = [(k, t) for k, t in found if self._txn_accounts(t) & ids]
            ref_filter = req.find("RefNumberFilter")
            if ref_filter is not None:
                crit, needle = _text(ref_filter, "MatchCriterion"), (_text(ref_filter, "RefNumber") or "").casefold()
                test = {"StartsWith": str.startswith, "Contains": str.__contains__, "EndsWith": str.endswith}[crit]
                found = [(k, t) for k, t in found if test(t.get("RefNumber", "").casefold(), needle)]
            ref_range = req.find("RefNumberRangeFilter")
            if ref_range is not None:
                lo, hi = _text(ref_range, "FromRefNumber") or "", _text(ref_range, "ToRefNumber")
                found = [(k, t) for k, t in found if t.get("RefNumber", "") >= lo and (hi is None or t.get("RefNumber", "") <= hi)]
            paid = _text(req, "PaidStatus")
            if paid == "PaidOnly":
                found = [(k, t) for k, t in found if t.get("IsPaid")]
            elif paid == "NotPaidOnly":
                found = [(k, t) for k, t in found if not t.get("IsPaid")]
        found.sort(key=lambda kt: (kt[1]["TxnDate"], kt[1]["TxnNumber"]))
        return self._answer(req, rs, work, found, include, missing, with_lines)

    def _filter_ids(self, filt: etree._Element, kinds: tuple[str, ...]) -> set[str]:
        ids = set(_texts(filt, "ListID"))
        for name in _texts(filt, "FullName"):
            for kind in kinds:
                rec = self.find_list(kind, name)
                if rec is not None:
                    ids.add(rec["ListID"])
        for tag, by_name in (("ListIDWithChildren", False), ("FullNameWithChildren", True)):
            value = _text(filt, tag)
            if value:
                for kind in kinds:
                    for rec in self.state.lists[kind]:
                        fn = self.full_name(rec)
                        root = self.find_list(kind, value) if by_name else self._by_list_id(value, (kind,))
                        if root is not None and (fn == self.full_name(root) or fn.startswith(self.full_name(root) + ":")):
                            ids.add(rec["ListID"])
        return ids

    @staticmethod
    def _txn_entities(txn: dict[str, Any]) -> set[str]:
        ids = {txn[key]["ListID"] for key in ("VendorRef", "PayeeEntityRef") if key in txn}
        ids |= {line["EntityRef"]["ListID"] for line in txn.get("Lines", []) if "EntityRef" in line}
        return ids

    @staticmethod
    def _txn_accounts(txn: dict[str, Any]) -> set[str]:
        ids = {txn[key]["ListID"] for key in ("APAccountRef", "BankAccountRef") if key in txn}
        ids |= {line["AccountRef"]["ListID"] for line in txn.get("ExpenseLineRet", []) + txn.get("Lines", [])}
        return ids

    def _currency_query(self, req: etree._Element, rs: etree._Element, work: _Work) -> StatusError | None:
        """The Currency list exists only with multicurrency on: 3250 otherwise (digest 4.1 names
        3250 for multicurrency; that CurrencyQuery gets it too is our assumption)."""
        if not self.state.multicurrency:
            raise StatusError(3250, FEATURE_OFF)
        return self._list_query(req, rs, work, ("Currency",))

    # --- host, company, preferences ------------------------------------------------------

    def _host_query(self, req: etree._Element, rs: etree._Element, work: _Work) -> None:
        st = self.state
        ret = etree.SubElement(rs, "HostRet")
        for tag, value in (("ProductName", st.product_name), ("MajorVersion", st.major_version), ("MinorVersion", 0), ("Country", st.country)):
            etree.SubElement(ret, tag).text = str(value)
        for version in SUPPORTED_VERSIONS:
            etree.SubElement(ret, "SupportedQBXMLVersion").text = version
        etree.SubElement(ret, "IsAutomaticLogin").text = "true"
        etree.SubElement(ret, "QBFileMode").text = "MultiUser"

    def _company_query(self, req: etree._Element, rs: etree._Element, work: _Work) -> None:
        st = self.state
        ret = etree.SubElement(rs, "CompanyRet")
        etree.SubElement(ret, "IsSampleCompany").text = "false"
        etree.SubElement(ret, "CompanyName").text = st.company_name
        etree.SubElement(ret, "LegalCompanyName").text = st.company_name
        address = etree.SubElement(ret, "Address")
        for tag, value in (("Addr1", "100 Main Street"), ("City", "Seattle"), ("State", "WA"), ("PostalCode", "98101"), ("Country", st.country)):
            etree.SubElement(address, tag).text = value
        block = etree.SubElement(ret, "AddressBlock")
        etree.SubElement(block, "Addr1").text = "100 Main Street"
        etree.SubElement(block, "Addr2").text = "Seattle, WA 98101"
        etree.SubElement(ret, "FirstMonthFiscalYear").text = "January"
        etree.SubElement(ret, "FirstMonthIncomeTaxYear").text = "January"
        etree.SubElement(ret, "CompanyType").text = "ProfessionalConsulting"
        etree.SubElement(ret, "TaxForm").text = "Form1120"
        owners = _texts(req, "OwnerID")
        for owner in owners:
            for name, value in st.data_ext.get(owner.upper(), {}).items():
                _data_ext(ret, owner, name, value)
            if owner.upper() in st.data_ext and self.in_session:
                # QBWC keeps its own lock data extension while a session runs.
                _data_ext(ret, owner, "AppLock", f"LOCKED:SIMHOST:{63123459999000 + self.session_id}")

    def _preferences_query(self, req: etree._Element, rs: etree._Element, work: _Work) -> None:
        st = self.state
        b = lambda v: "true" if v else "false"  # noqa: E731
        ret = etree.SubElement(rs, "PreferencesRet")
        acct = etree.SubElement(ret, "AccountingPreferences")
        for tag, value in (
            ("IsUsingAccountNumbers", b(st.account_numbers)),
            ("IsRequiringAccounts", "true"),
            ("IsUsingClassTracking", b(st.class_tracking)),
            ("IsUsingAuditTrail", "true"),
            ("IsAssigningJournalEntryNumbers", b(st.assigning_je_numbers)),
        ):
            etree.SubElement(acct, tag).text = value
        if st.closing_date:
            etree.SubElement(acct, "ClosingDate").text = st.closing_date
        fin = etree.SubElement(ret, "FinanceChargePreferences")
        for tag, value in (
            ("AnnualInterestRate", "0.00"),
            ("MinFinanceCharge", "0.00"),
            ("GracePeriod", "0"),
            ("IsAssessingForOverdueCharges", "false"),
            ("CalculateChargesFrom", "DueDate"),
            ("IsMarkedToBePrinted", "false"),
        ):
            etree.SubElement(fin, tag).text = value
        jobs = etree.SubElement(ret, "JobsAndEstimatesPreferences")
        for tag in ("IsUsingEstimates", "IsUsingProgressInvoicing", "IsPrintingItemsWithZeroAmounts"):
            etree.SubElement(jobs, tag).text = "false"
        multi = etree.SubElement(ret, "MultiCurrencyPreferences")
        etree.SubElement(multi, "IsMultiCurrencyOn").text = b(st.multicurrency)
        if st.multicurrency:
            home = etree.SubElement(multi, "HomeCurrencyRef")
            for tag, value in self._resolve_for_output(self._home_ref()).items():
                etree.SubElement(home, tag).text = value
        mli = etree.SubElement(ret, "MultiLocationInventoryPreferences")
        etree.SubElement(mli, "IsMultiLocationInventoryAvailable").text = "false"
        etree.SubElement(mli, "IsMultiLocationInventoryEnabled").text = "false"
        pv = etree.SubElement(ret, "PurchasesAndVendorsPreferences")
        for tag, value in (("IsUsingInventory", "false"), ("DaysBillsAreDue", "10"), ("IsAutomaticallyUsingDiscounts", "false")):
            etree.SubElement(pv, tag).text = value
        rep = etree.SubElement(ret, "ReportsPreferences")
        etree.SubElement(rep, "AgingReportBasis").text = "AgeFromDueDate"
        etree.SubElement(rep, "SummaryReportBasis").text = "Accrual"
        sc = etree.SubElement(ret, "SalesAndCustomersPreferences")
        etree.SubElement(sc, "IsTrackingReimbursedExpensesAsIncome").text = "false"
        etree.SubElement(sc, "IsAutoApplyingPayments").text = "true"
        tt = etree.SubElement(ret, "TimeTrackingPreferences")
        etree.SubElement(tt, "FirstDayOfWeek").text = "Monday"
        rights = etree.SubElement(ret, "CurrentAppAccessRights")
        etree.SubElement(rights, "IsAutomaticLoginAllowed").text = "true"
        etree.SubElement(rights, "IsPersonalDataAccessAllowed").text = "false"

    def hcp_response(self, owner_id: str) -> str:
        """The strHCPResponse the Web Connector sends on a session's first sendRequestXML."""
        request = (
            '<?xml version="1.0" ?><?qbxml version="13.0"?><QBXML><QBXMLMsgsRq onError="continueOnError">'
            '<HostQueryRq requestID="0"/><CompanyQueryRq requestID="1">'
            f"<OwnerID>{owner_id}</OwnerID></CompanyQueryRq>"
            '<PreferencesQueryRq requestID="2"/></QBXMLMsgsRq></QBXML>'
        )
        return self.execute(request)


def _data_ext(parent: etree._Element, owner: str, name: str, value: str) -> None:
    ext = etree.SubElement(parent, "DataExtRet")
    etree.SubElement(ext, "OwnerID").text = owner
    etree.SubElement(ext, "DataExtName").text = name
    etree.SubElement(ext, "DataExtType").text = "STR255TYPE"
    etree.SubElement(ext, "DataExtValue").text = value


def _address_block(addr: dict[str, Any]) -> dict[str, str]:
    lines = [addr[k] for k in ("Addr1", "Addr2", "Addr3", "Addr4", "Addr5") if addr.get(k)]
    city, tail = addr.get("City", ""), " ".join(p for p in (addr.get("State", ""), addr.get("PostalCode", "")) if p)
    city_line = f"{city}, {tail}" if city and tail else (city or tail)
    if city_line:
        lines.append(city_line)
    return {f"Addr{i + 1}": line for i, line in enumerate(lines[:5])}


def _set_status(rs: etree._Element, err: StatusError | None) -> None:
    code, severity, message = (0, "Info", STATUS_OK) if err is None else (err.code, err.severity, err.message)
    # Attribute order as QuickBooks prints it: requestID, statusCode, statusSeverity, statusMessage, then iterator ones.
    extra = {k: rs.attrib.pop(k) for k in ("retCount", "iteratorRemainingCount", "iteratorID") if k in rs.attrib}
    rs.set("statusCode", str(code))
    rs.set("statusSeverity", severity)
    rs.set("statusMessage", message)
    for k, v in extra.items():
        rs.set(k, v)


_RET_TAG = {kind: f"{kind}Ret" for kind in (*LIST_TYPES, "Bill", "JournalEntry", "BillPaymentCheck")}


def _q(kinds: tuple[str, ...]) -> Callable[[CompanyFile, etree._Element, etree._Element, _Work], StatusError | None]:
    return lambda cf, req, rs, work: cf._list_query(req, rs, work, kinds)


def _t(kind: str) -> Callable[[CompanyFile, etree._Element, etree._Element, _Work], StatusError | None]:
    return lambda cf, req, rs, work: cf._txn_query(req, rs, work, kind)


_HANDLERS: dict[str, Callable[[CompanyFile, etree._Element, etree._Element, _Work], StatusError | None]] = {
    "VendorAddRq": CompanyFile._vendor_add,
    "VendorModRq": CompanyFile._vendor_mod,
    "BillAddRq": CompanyFile._bill_add,
    "BillPaymentCheckAddRq": CompanyFile._bill_payment_check_add,
    "JournalEntryAddRq": CompanyFile._journal_entry_add,
    "AccountQueryRq": _q(("Account",)),
    "ClassQueryRq": _q(("Class",)),
    "CustomerQueryRq": _q(("Customer",)),
    "VendorQueryRq": _q(("Vendor",)),
    "EmployeeQueryRq": _q(("Employee",)),
    "OtherNameQueryRq": _q(("OtherName",)),
    "EntityQueryRq": _q(NAME_SPACE),
    "BillQueryRq": _t("Bill"),
    "JournalEntryQueryRq": _t("JournalEntry"),
    "BillPaymentCheckQueryRq": _t("BillPaymentCheck"),
    "TermsQueryRq": _q(TERMS_TYPES),
    "StandardTermsQueryRq": _q(("StandardTerms",)),
    "DateDrivenTermsQueryRq": _q(("DateDrivenTerms",)),
    "CurrencyQueryRq": CompanyFile._currency_query,
    "BillToPayQueryRq": CompanyFile._bill_to_pay_query,
    "HostQueryRq": CompanyFile._host_query,
    "CompanyQueryRq": CompanyFile._company_query,
    "PreferencesQueryRq": CompanyFile._preferences_query,
}
