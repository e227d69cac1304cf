"""Which QuickBooks vendor a Concur employee or invoice vendor is: a pure decision.

Order: the stored link (Concur key -> ListID); then, for an employee, the vendor whose
``AccountNumber`` is the Concur employee id (set when the connector creates the vendor) and
nothing else: a vendor that only shares the employee's name is someone else (a contractor "John
Smith" is not the employee John Smith). For an invoice vendor: its Concur vendor code (kept in the
QuickBooks vendor's AccountNumber), then the exact name (case-insensitive), then the normalised
name (transliterated, case, whitespace and punctuation folded). When nothing matches the vendor is
created (``vendor_policy = "create"``) or the document is held ("match_only"). Vendor, Customer,
Employee and Other Name share one name space in QuickBooks (3100 on a collision), so a new vendor
whose name is already taken gets a " (V)" suffix.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property, lru_cache

from shared.domain import Employee, Invoice, RemitAddress
from worker.posting.keys import external_guid
from worker.qbxml import limits
from worker.qbxml.limits import to_latin1
from worker.qbxml.model import Address, Ref, VendorAdd, VendorMod

NAME_MAX = limits.VENDOR_NAME  # 41
MAX_SUFFIX = 99  # " (V99)": beyond that a person should look


@dataclass(frozen=True)
class QbVendor:
    list_id: str
    name: str
    is_active: bool = True
    edit_sequence: str | None = None
    account_number: str = ""  # the vendor's AccountNumber ("" when none or not synced)
    currency: str | None = None  # ISO code of the vendor's CurrencyRef (multicurrency files); None = not known


@dataclass(frozen=True)
class VendorDirectory:
    """QuickBooks names as last cached: vendors, and names held by customers, employees and
    other names (which a new vendor may not take)."""

    vendors: tuple[QbVendor, ...] = ()
    other_names: frozenset[str] = frozenset()  # as QuickBooks shows them; compared case-insensitively

    @classmethod
    def of(cls, vendors: Iterable[QbVendor] = (), other_names: Iterable[str] = ()) -> VendorDirectory:
        return cls(tuple(vendors), frozenset(other_names))

    # Indexes built on first use: a directory may hold thousands of vendors and is asked a few
    # questions per document. (cached_property writes the instance dict, frozen or not.)
    @cached_property
    def _by_list_id(self) -> dict[str, QbVendor]:
        return {v.list_id: v for v in self.vendors}

    @cached_property
    def _by_name(self) -> dict[str, list[QbVendor]]:
        index: dict[str, list[QbVendor]] = {}
        for v in self.vendors:
            index.setdefault(v.name.casefold(), []).append(v)
        return index

    @cached_property
    def _by_normalised(self) -> dict[str, list[QbVendor]]:
        index: dict[str, list[QbVendor]] = {}
        for v in self.vendors:
            index.setdefault(normalise_name(v.name), []).append(v)
        return index

    @cached_property
    def _by_account_number(self) -> dict[str, list[QbVendor]]:
        index: dict[str, list[QbVendor]] = {}
        for v in self.vendors:
            if v.account_number.strip():
                index.setdefault(v.account_number.strip().casefold(), []).append(v)
        return index

    @cached_property
    def _other_names(self) -> frozenset[str]:
        return frozenset(n.casefold() for n in self.other_names)

    def by_list_id(self, list_id: str) -> QbVendor | None:
        return self._by_list_id.get(list_id)

    def by_name(self, name: str) -> list[QbVendor]:
        return list(self._by_name.get(name.casefold(), ()))

    def by_normalised(self, key: str) -> list[QbVendor]:
        return list(self._by_normalised.get(key, ()))

    def by_account_number(self, number: str) -> list[QbVendor]:
        return list(self._by_account_number.get(number.strip().casefold(), ())) if number.strip() else []

    def name_taken_by_other(self, name: str) -> bool:
        return name.casefold() in self._other_names


# --- the decision ---------------------------------------------------------------------------


@dataclass(frozen=True)
class UseVendor:
    list_id: str
    name: str

    @property
    def ref(self) -> Ref:
        return Ref(list_id=self.list_id)


@dataclass(frozen=True)
class CreateVendor:
    add: VendorAdd
    concur_key: str  # the link to store once QuickBooks answers with the ListID

    @property
    def name(self) -> str:
        return self.add.name

    @property
    def ref(self) -> Ref:
        # The ListID is not known until the VendorAdd is answered; the name is unique.
        return Ref(full_name=self.add.name)


@dataclass(frozen=True)
class ReactivateVendor:
    mod: VendorMod
    name: str

    @property
    def ref(self) -> Ref:
        return Ref(list_id=self.mod.list_id)


VendorAction = UseVendor | CreateVendor | ReactivateVendor


@dataclass(frozen=True)
class VendorHold:
    reason: str


@dataclass(frozen=True)
class VendorCandidate:
    """What Concur tells us about the payee, shaped for matching and for a VendorAdd."""

    concur_key: str  # vendor_links key: employee:<uuid> | vendor:<code or name>
    name: str  # as Concur spells it
    description: str  # for reasons: 'employee "Jane Doe"'
    email: str = ""
    account_number: str = ""
    notes: str = ""
    # An invoice vendor's Concur vendor code identifies it: matched against the QuickBooks
    # vendors' AccountNumber before any name. (An employee's number is not matched here.)
    match_by_code: bool = False
    address: Address | None = None  # the remit-to address a created vendor gets
    # True (employees): a QuickBooks vendor is this payee only by the stored link or by its
    # AccountNumber, never by its name.
    by_identity: bool = False


def employee_candidate(employee: Employee) -> VendorCandidate:
    # Concur UUIDs come in either case; the link key must not depend on which.
    return VendorCandidate(
        concur_key=f"employee:{employee.employee_id.lower()}",
        name=employee.name,
        description=f'employee "{employee.name}"',
        email=employee.email,
        account_number=employee.employee_code or employee.employee_id,
        notes=f"Concur employee {employee.employee_id}",
        by_identity=True,
    )


def invoice_vendor_candidate(invoice: Invoice) -> VendorCandidate:
    key = invoice.vendor_code.strip() or invoice.vendor_name.strip().casefold()
    return VendorCandidate(
        concur_key=f"vendor:{key}",
        name=invoice.vendor_name,
        description=f'invoice vendor "{invoice.vendor_name}"' + (f" ({invoice.vendor_code})" if invoice.vendor_code else ""),
        account_number=invoice.vendor_code.strip(),
        notes="Concur invoice vendor" + (f" {invoice.vendor_code}" if invoice.vendor_code else ""),
        match_by_code=bool(invoice.vendor_code.strip()),
        address=remit_address(invoice.remit_address),
    )


def remit_address(remit: RemitAddress | None) -> Address | None:
    """Concur's VendorRemitAddress as a QuickBooks VendorAddress: Latin-1 and each field cut to
    QuickBooks' length (Addr 41, City 31, State 21, PostalCode 13, Country 31). These are free
    text fields of the vendor record, not references, so a cut loses only what does not fit."""
    if remit is None:
        return None

    def fit(text: str, size: int) -> str:
        return " ".join(to_latin1(text).split())[:size].strip()

    lines = [fit(text, limits.ADDR_LINE) for text in (remit.name, remit.address1, remit.address2, remit.address3) if text.strip()]
    lines += [""] * (4 - len(lines))
    address = Address(
        addr1=lines[0],
        addr2=lines[1],
        addr3=lines[2],
        addr4=lines[3],
        city=fit(remit.city, limits.CITY),
        state=fit(remit.state, limits.STATE),
        postal_code=fit(remit.postal_code, limits.POSTAL_CODE),
        country=fit(remit.country_code, limits.COUNTRY),
    )
    return address if any((address.addr1, address.city, address.postal_code)) else None


@lru_cache(maxsize=1 << 16)  # the same QuickBooks names are normalised for every document
def normalise_name(name: str) -> str:
    """Matching key: Latin-1 transliteration, accents dropped, case folded, and runs of
    whitespace and punctuation folded to one space ("O'Brien,  Zoë" == "obrien zoe")."""
    text = unicodedata.normalize("NFKD", to_latin1(name))
    text = "".join(c for c in text if not unicodedata.combining(c)).casefold()
    text = re.sub(r"['\u00b4`]", "", text)  # apostrophes join: O'Brien -> obrien
    return " ".join(re.sub(r"[\W_]+", " ", text).split())


def cut_name(name: str) -> str:
    """The vendor name QuickBooks gets: Latin-1, one line, no colon, at most 41 characters; a cut name ends
    in ``~XXXX`` (a hash of the whole) so two long names stay apart. This is the builders' own
    rule (``limits.vendor_name``), so a name planned here is sent unchanged."""
    return limits.vendor_name(name)


def suffixed_name(name: str, n: int) -> str:
    """``name`` with the n-th collision suffix, " (V)", " (V2)", ..., still at most 41 characters."""
    suffix = " (V)" if n == 1 else f" (V{n})"
    return limits.vendor_name(name, NAME_MAX - len(suffix)) + suffix


def _pick(matches: list[QbVendor]) -> QbVendor | None:
    """One vendor if the choice is unambiguous: the only one, or the only active one."""
    if len(matches) == 1:
        return matches[0]
    active = [v for v in matches if v.is_active]
    return active[0] if len(active) == 1 else None


def _found(vendor: QbVendor, why: str, decisions: list[str]) -> VendorAction | VendorHold:
    if vendor.is_active:
        decisions.append(f'vendor "{vendor.name}" ({vendor.list_id}): {why}')
        return UseVendor(vendor.list_id, vendor.name)
    if not vendor.edit_sequence:
        return VendorHold(
            f'vendor "{vendor.name}" ({vendor.list_id}) is inactive and its EditSequence is not cached; the vendor list must be synced before it can be reactivated'
        )
    decisions.append(f'vendor "{vendor.name}" ({vendor.list_id}): {why}; it is inactive and will be reactivated (VendorMod)')
    return ReactivateVendor(VendorMod(list_id=vendor.list_id, edit_sequence=vendor.edit_sequence, is_active=True), vendor.name)


_NAMES = "\x00names\x00"  # where ``_unique`` puts the names of the vendors that match


def _unique(matches: list[QbVendor], why: str, several: str, decisions: list[str]) -> VendorAction | VendorHold | None:
    """The one vendor of ``matches`` (see ``_pick``), found for ``why``; when several match and none
    stands out, a hold: ``several`` with ``_NAMES`` replaced by their names; None when nothing matches."""
    vendor = _pick(matches)
    if vendor is not None:
        return _found(vendor, why, decisions)
    if matches:
        # replace, not format: a payee's name may hold braces
        return VendorHold(several.replace(_NAMES, ", ".join(f'"{v.name}" ({v.list_id})' for v in matches)))
    return None


def decide_vendor(
    candidate: VendorCandidate,
    directory: VendorDirectory,
    links: Mapping[str, str],
    policy: str,
    company: str,
    decisions: list[str],
) -> VendorAction | VendorHold:
    """The vendor for ``candidate``; every step taken is appended to ``decisions``."""
    list_id = links.get(candidate.concur_key)
    if list_id:
        vendor = directory.by_list_id(list_id)
        if vendor is not None:
            return _found(vendor, f"linked to {candidate.concur_key}", decisions)
        # Not cached yet (e.g. created since the last list sync): the link is what we know.
        # A stale link shows up as 3120 from QuickBooks, which clears it.
        decisions.append(f"vendor {list_id}: linked to {candidate.concur_key} (not in the cached vendor list yet)")
        return UseVendor(list_id, cut_name(candidate.name))

    if candidate.match_by_code and candidate.account_number:
        code = candidate.account_number
        by_code = _unique(
            directory.by_account_number(code),
            f"vendor code {code} (AccountNumber) of {candidate.description}",
            f"{candidate.description}: several QuickBooks vendors have the vendor code {code} as their account number ({_NAMES}); keep it on one",
            decisions,
        )
        if by_code is not None:
            return by_code

    cut = cut_name(candidate.name)
    if candidate.by_identity:
        number = candidate.account_number
        found = _unique(
            directory.by_account_number(number),
            f"its AccountNumber {number} is the Concur employee id of {candidate.description}",
            f"several QuickBooks vendors carry AccountNumber {number}, the Concur employee id of {candidate.description} ({_NAMES}); keep it on one",
            decisions,
        )
        if found is not None:
            return found
    else:
        for name in dict.fromkeys((candidate.name.strip(), cut)):
            vendor = _pick(directory.by_name(name))
            if vendor is not None:
                return _found(vendor, f"exact name match for {candidate.description}", decisions)

    key = normalise_name(candidate.name) if not candidate.by_identity else ""
    if key:
        found = _unique(
            directory.by_normalised(key),
            f"normalised name match for {candidate.description}",
            f"{candidate.description} matches several QuickBooks vendors ({_NAMES}); make the names distinct in QuickBooks",
            decisions,
        )
        if found is not None:
            return found

    if not cut:
        return VendorHold(
            f"{candidate.description} has no name usable in QuickBooks (nothing is left once characters QuickBooks cannot store and the ':' it reserves for sub-levels are removed); give the payee a name in Concur"
        )

    # The name we would create, stepping past names other kinds of entity hold. A vendor with
    # a suffixed name is one we created earlier for the same payee (its link may be lost).
    name = cut
    n = 0
    while True:
        vendors = directory.by_name(name)
        if n and vendors and not candidate.by_identity and (vendor := _pick(vendors)) is not None:
            return _found(vendor, f'the name ml-connector gives {candidate.description} ("{cut}" is taken by a customer, employee or other name)', decisions)
        if not vendors and not directory.name_taken_by_other(name):
            break
        n += 1
        if n > MAX_SUFFIX:
            return VendorHold(f'no free QuickBooks name for {candidate.description}: "{cut}" and its suffixes up to (V{MAX_SUFFIX}) are all taken')
        name = suffixed_name(candidate.name, n)

    if policy == "match_only":
        return VendorHold(
            f'no QuickBooks vendor matches {candidate.description} and vendor_policy is "match_only" for company {company} (create or rename the vendor in QuickBooks)'
        )

    if name != cut and candidate.by_identity:
        decisions.append(
            f'vendor "{name}" will be created for {candidate.description}: "{cut}" is already used in QuickBooks by a vendor that is not this employee '
            f"(no link, and its AccountNumber is not the Concur employee id {candidate.account_number}) or by a customer, employee or other name"
        )
    elif name != cut:
        decisions.append(
            f'vendor "{name}" will be created for {candidate.description}: "{cut}" is already used by a customer, employee or other name in QuickBooks'
        )
    elif cut != candidate.name.strip():
        decisions.append(f'vendor "{name}" will be created for {candidate.description} (name made fit for QuickBooks: Latin-1, at most {NAME_MAX} characters)')
    else:
        decisions.append(f'vendor "{name}" will be created for {candidate.description}: no vendor matches by link or name')
    add = VendorAdd(
        name=name,
        name_on_check=cut,
        email=to_latin1(candidate.email),
        account_number=to_latin1(candidate.account_number)[:99],
        notes=to_latin1(candidate.notes),
        external_guid=external_guid(company, "vendor", candidate.concur_key),
        vendor_address=candidate.address,
    )
    return CreateVendor(add=add, concur_key=candidate.concur_key)


__all__ = [
    "CreateVendor",
    "QbVendor",
    "ReactivateVendor",
    "UseVendor",
    "VendorAction",
    "VendorCandidate",
    "VendorDirectory",
    "VendorHold",
    "cut_name",
    "decide_vendor",
    "employee_candidate",
    "invoice_vendor_candidate",
    "normalise_name",
    "remit_address",
    "suffixed_name",
]
