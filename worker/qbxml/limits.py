"""QuickBooks Desktop's text and number rules, applied before any qbXML is built.

The 13.0 XSD states only some lengths (``STRTYPE`` has no maxLength), so QuickBooks rejects the
rest at runtime (3070/3080). Lengths below are the QBD values from the XSD and the OSR
templates (``osr-templates-v13``). QuickBooks stores text in Latin-1: anything else is
transliterated here, deterministically, so the same Concur text always yields the same qbXML
(RefNumbers and names must be reproducible for the never-twice checks).
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import hashlib
import re
import unicodedata
import uuid
from decimal import Decimal, InvalidOperation

from shared.types import cents

# --- lengths (QBD) -------------------------------------------------------------------------

VENDOR_NAME = 41  # Vendor/Customer/Employee/OtherName Name; VendorRef FullName
ENTITY_FULL_NAME = 209  # Customer:Job FullName (CustomerRef, EntityRef)
LIST_SEGMENT = 31  # one level of an Account/Class FullName
LIST_FULL_NAME = 159  # Account/Class FullName (AccountRef, ClassRef, APAccountRef)
TERMS_NAME = 31  # TermsRef FullName (SimpleListRef)
CURRENCY_NAME = 64  # CurrencyRef FullName (CurrencyListRef)
CHECK_REF_NUMBER = 11  # BillPaymentCheckAdd RefNumber (the check number)
ADDRESS_NOTE = 41  # AddressData Note
BILL_REF_NUMBER = 20
JOURNAL_REF_NUMBER = 11
MEMO = 4095  # Bill Memo, expense/journal line Memo, Vendor Notes
COMPANY_NAME = 41
SALUTATION = 15
FIRST_NAME = 25
MIDDLE_NAME = 5
LAST_NAME = 25
JOB_TITLE = 41
NAME_ON_CHECK = 41
ACCOUNT_NUMBER = 99  # VendorAdd AccountNumber
EMAIL = 1023
PHONE = 21
CONTACT = 41
ADDR_LINE = 41
CITY = 31
STATE = 21
POSTAL_CODE = 13
COUNTRY = 31
VENDOR_TAX_IDENT = 15
EDIT_SEQUENCE = 16
ID = 36  # ListID / TxnID (IDTYPE)
INCLUDE_RET_ELEMENT = 50
DATA_EXT_NAME = 31
DATA_EXT_STR255 = 255
MESSAGE_SET_ID = 23  # newMessageSetID/oldMessageSetID (OSR 23; QBFC error 9004 says > 24)
AMOUNT_INTEGER_DIGITS = 13  # AMTTYPE: [+-]?[0-9]{1,13}(\.[0-9]{2})?

MIN_QBXML_VERSION = (9, 0)  # ExternalGUID on BillAdd/JournalEntryAdd arrived in 9.0 (OSR)


# --- Latin-1 -------------------------------------------------------------------------------

# Letters NFKD cannot take apart (no combining-mark decomposition) and punctuation that
# Windows-1252 users type but Latin-1 lacks. Everything else goes through NFKD.
_SPECIAL: dict[str, str] = {
    "Ł": "L",
    "ł": "l",
    "Đ": "D",
    "đ": "d",
    "Ħ": "H",
    "ħ": "h",
    "ı": "i",
    "Ŀ": "L",
    "ŀ": "l",
    "Ŧ": "T",
    "ŧ": "t",
    "Ŋ": "N",
    "ŋ": "n",
    "ĸ": "k",
    "Œ": "OE",
    "œ": "oe",
    "Ƒ": "F",
    "ƒ": "f",
    "Ə": "E",
    "ə": "e",
    "‘": "'",
    "’": "'",
    "‚": ",",
    "‛": "'",
    "“": '"',
    "”": '"',
    "„": '"',
    "‟": '"',
    "′": "'",
    "″": '"',
    "‹": "<",
    "›": ">",
    "‐": "-",
    "‑": "-",
    "‒": "-",
    "–": "-",
    "—": "-",
    "―": "-",
    "−": "-",
    "…": "...",
    "•": "*",
    "€": "EUR",
    "™": "TM",
    "‰": "o/oo",
    "†": "+",
    "‡": "++",
    "\u2028": "\n",
    "\u2029": "\n",
    "\u200b": "",
    "\u200c": "",
    "\u200d": "",
    "\ufeff": "",
    "\u00ad": "",  # soft hyphen: invisible, would only confuse name matching
}

_ALLOWED_CONTROLS = {"\t", "\n", "\r"}


def _latin1_char(ch: str) -> str | None:
    """One character as Latin-1 text, or None when it has no sensible Latin-1 form."""
    code = ord(ch)
    if ch in _SPECIAL:
        return _SPECIAL[ch]
    if code < 0x20:
        return ch if ch in _ALLOWED_CONTROLS else ""
    if 0x7F <= code < 0xA0:  # DEL and C1 controls: not text
        return ""
    if code == 0xA0:  # no-break space: QuickBooks name matching treats it as a different name
        return " "
    if code <= 0xFF:
        return ch
    category = unicodedata.category(ch)
    if category.startswith("Z"):  # other spaces
        return " "
    if category in ("Mn", "Me", "Cf"):  # stray combining marks and format characters
        return ""
    decomposed = unicodedata.normalize("NFKD", ch)
    base = "".join(c for c in decomposed if not unicodedata.combining(c))
    base = unicodedata.normalize("NFC", base)
    if base and base != ch and all(ord(c) <= 0xFF or c in _SPECIAL for c in base):
        return "".join(_latin1_char(c) or "" for c in base)
    return None


def to_latin1(text: str, replacement: str = "") -> str:
    """Text that QuickBooks can store: Latin-1 only, no control characters but tab/newline.

    Latin-1 letters stay as they are ("Müller", "Zoë", "Żółć" keeps its "ó") because a vendor
    already in QuickBooks as "Müller GmbH" must still match; other letters lose their accents
    ("Łukasz Żółć" -> "Lukasz Zólc"; ``to_ascii`` folds fully: "Lukasz Zolc"). Characters with
    no Latin-1 form (CJK, emoji) become ``replacement`` per run (default: dropped) and the
    spaces left around a dropped run collapse, so names stay tidy.
    """
    if text.isascii() and text.isprintable():
        return text  # the common case: nothing to change (no ASCII character is special)
    text = unicodedata.normalize("NFC", text)
    out: list[str] = []
    in_dropped_run = False
    for ch in text:
        mapped = _latin1_char(ch)
        if mapped is None:
            if not in_dropped_run:
                out.append(replacement)
            in_dropped_run = True
            continue
        in_dropped_run = False
        out.append(mapped)
    result = "".join(out)
    if result != text:
        result = re.sub(r"[ ]{2,}", " ", result)
        if not text[:1].isspace():
            result = result.lstrip(" ")
        if not text[-1:].isspace():
            result = result.rstrip(" ")
    return result


def to_ascii(text: str) -> str:
    """Fold further, to plain ASCII (``"Łukasz Żółć" -> "Lukasz Zolc"``), for keys and matching."""
    latin = to_latin1(text)
    decomposed = unicodedata.normalize("NFKD", latin)
    folded = "".join(_SPECIAL.get(c, c) for c in decomposed if not unicodedata.combining(c))
    extra = {"Ø": "O", "ø": "o", "ß": "ss", "Æ": "AE", "æ": "ae", "Þ": "Th", "þ": "th", "Ð": "D", "ð": "d", "×": "x", "÷": "/"}
    folded = "".join(extra.get(c, c) for c in folded)
    return "".join(c for c in folded if ord(c) < 0x80)


def single_line(text: str) -> str:
    """Names and references live on one line: every run of whitespace becomes one space."""
    return " ".join(text.split())


# --- deterministic truncation ---------------------------------------------------------------


def _digest(text: str, length: int) -> str:
    raw = hashlib.sha256(text.encode("utf-8")).digest()
    return base64.b32encode(raw).decode("ascii")[:length]


def fit(text: str, limit: int, *, disambiguate: bool = False) -> str:
    """``text`` cut to ``limit`` characters, the same way every time.

    With ``disambiguate`` a cut text ends in ``~XXXX`` (a hash of the whole text) so that two
    long names sharing a prefix stay different, e.g. two vendors of 60 characters.
    """
    if limit < 1:
        raise ValueError("limit must be positive")
    if len(text) <= limit:
        return text
    if disambiguate and limit >= 8:
        suffix = "~" + _digest(text, 4)
        return text[: limit - len(suffix)].rstrip() + suffix
    return text[:limit].rstrip() or text[:limit]


def clean(text: str, limit: int, *, one_line: bool = True, disambiguate: bool = False) -> str:
    """Transliterate, (optionally) flatten to one line and fit: what every builder field gets."""
    value = to_latin1(text)
    if one_line:
        value = single_line(value)
    return fit(value, limit, disambiguate=disambiguate)


def vendor_name(name: str, limit: int = VENDOR_NAME) -> str:
    """The one way a vendor name is fitted, for VendorAdd Name, VendorRef and VendorQuery alike.

    A colon becomes a space: ``:`` separates the levels of a list FullName, so a vendor named
    ``a:b`` could not be referred to (an EntityRef ``a:b`` is customer ``a``, job ``b``), and
    ``:`` alone is no name at all (the result is empty; callers hold the document). Over-long
    names end in a hash (``~XXXX``) so two long names stay distinct; the function is
    idempotent, so passing its result through it again changes nothing. ``limit`` leaves room
    for a suffix such as " (V2)".
    """
    return clean(name.replace(":", " "), limit, disambiguate=True)


def fit_full_name(full_name: str, *, segment: int = LIST_SEGMENT, total: int = LIST_FULL_NAME) -> str:
    """An Account/Class ``Parent:Child`` name with every level and the whole within limits.

    Only for names ml-connector itself creates; references to existing records go through
    ``reference_name``, which refuses instead of cutting.
    """
    parts = [clean(p, segment).strip() for p in single_line(to_latin1(full_name)).split(":")]
    joined = ":".join(parts)
    if len(joined) <= total:
        return joined  # an empty level stays visible: the builder refuses it
    # A cut at the total limit must not leave a dangling ":" (an empty level).
    return fit(joined, total).rstrip(": ")


@functools.lru_cache(maxsize=4096)  # a few account, class and customer names, referred to on every line
def reference_name(full_name: str, *, segment: int | None = LIST_SEGMENT, total: int = LIST_FULL_NAME) -> str:
    """The text of a reference to an existing QuickBooks record (AccountRef, ClassRef, ...).

    Transliterated and trimmed per level, but never cut: a name over the limits cannot exist in
    QuickBooks, and a cut one could name a *different* record (``Travel:Airfare`` cut to
    ``Travel``). Raises ValueError naming the problem instead, so the document is held.
    ``segment=None`` for names whose levels have no own limit here (Customer:Job, Terms).
    """
    levels = [single_line(to_latin1(level)) for level in full_name.split(":")]
    name = ":".join(levels)
    if not name or "" in levels:
        raise ValueError(f"{full_name!r} has an empty level or no characters QuickBooks can store")
    if segment is not None:
        for level in levels:
            if len(level) > segment:
                raise ValueError(f"{full_name!r}: level {level!r} is longer than QuickBooks allows ({segment})")
    if len(name) > total:
        raise ValueError(f"{full_name!r} is longer than QuickBooks allows ({total})")
    return name


def full_name_problems(full_name: str, *, segment: int = LIST_SEGMENT, total: int = LIST_FULL_NAME) -> list[str]:
    """Why a configured Account/Class name cannot exist in QuickBooks (empty when fine).

    Used by config checks: a mapping that names an impossible account should be fixed by a
    person, not silently truncated into a reference to some other account.
    """
    problems = []
    if not full_name.strip():
        return ["is empty"]
    if to_latin1(full_name) != full_name:
        problems.append("contains characters QuickBooks cannot store (not Latin-1)")
    if len(full_name) > total:
        problems.append(f"is longer than {total} characters")
    for part in full_name.split(":"):
        if not part.strip():
            problems.append("has an empty level (check the ':' separators)")
        elif len(part) > segment:
            problems.append(f"level {part!r} is longer than {segment} characters")
    return problems


# --- numbers, dates, ids --------------------------------------------------------------------


def amount(value: Decimal | int | str) -> str:
    """AMTTYPE text: exactly two decimals, half-up rounded, at most 13 integer digits.

    Negative amounts are allowed (the XSD's pattern allows a sign; whether a field may be
    negative is QuickBooks' business rule, e.g. an expense line credit on a bill).
    """
    try:
        number = Decimal(value) if not isinstance(value, Decimal) else value
    except (InvalidOperation, ValueError, TypeError) as exc:
        raise ValueError(f"not an amount: {value!r}") from exc
    if not number.is_finite():
        raise ValueError(f"not an amount: {value!r}")
    quantised = cents(number)
    if quantised == 0:
        quantised = abs(quantised)  # never emit "-0.00"
    text = f"{quantised:.2f}"
    if len(text.lstrip("-").split(".")[0]) > AMOUNT_INTEGER_DIGITS:
        raise ValueError(f"amount too large for QuickBooks: {text}")
    return text


def date_text(value: dt.date) -> str:
    """DATETYPE text (``YYYY-MM-DD``)."""
    if isinstance(value, dt.datetime):
        value = value.date()
    return value.isoformat()


def datetime_text(value: dt.datetime) -> str:
    """DATETIMETYPE text: seconds precision; ``+HH:MM`` offset when aware (the XSD has no ``Z``)."""
    value = value.replace(microsecond=0)
    text = value.replace(tzinfo=None).isoformat(timespec="seconds")  # 4-digit year, unlike strftime
    offset = value.utcoffset()
    if offset is not None:
        minutes = int(offset.total_seconds()) // 60
        sign = "+" if minutes >= 0 else "-"
        minutes = abs(minutes)
        text += f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"
    return text


def guid(value: str | uuid.UUID) -> str:
    """GUIDTYPE text ``{XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX}`` (upper case, braces)."""
    try:
        parsed = value if isinstance(value, uuid.UUID) else uuid.UUID(value.strip().strip("{}"))
    except (ValueError, AttributeError) as exc:
        raise ValueError(f"not a GUID: {value!r}") from exc
    return "{" + str(parsed).upper() + "}"


def same_guid(a: str | None, b: str | None) -> bool:
    """QuickBooks may echo a GUID in another case or without braces: compare the values."""
    if not a or not b:
        return False
    try:
        return guid(a) == guid(b)
    except ValueError:
        return a.strip().casefold() == b.strip().casefold()


def version_tuple(version: str) -> tuple[int, int]:
    """``"13.0" -> (13, 0)``; raises ValueError on anything else."""
    match = re.fullmatch(r"\s*(\d{1,3})\.(\d{1,3})\s*", version)
    if not match:
        raise ValueError(f"not a qbXML version: {version!r}")
    return int(match.group(1)), int(match.group(2))
