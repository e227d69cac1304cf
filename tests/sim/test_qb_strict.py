"""The simulator is as strict as QuickBooks' parser: what it accepts the qbXML 13.0 XSD accepts,
and what the XSD rejects it rejects — over the request shapes in the reference and mutations of
them (element order, amounts, lengths, unknown/missing/duplicated elements, bad values).
The built-in fallback (used when the XSD is absent) must agree with the XSD on the same set."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree

from sim.quickbooks.strict import CONTENT_MODELS, QBXMLSetError, Validator, load_xsd

AMOUNT_TAGS = {"Amount", "TaxAmount", "CreditLimit", "OpenBalance"}
BAD_AMOUNTS = ("412.3", "12.345", "1,000.00", "12.", "abc")


def samples(qbxml_ref: Path) -> list[Path]:
    """The worker's request shapes (constructed) and Intuit's SDK samples."""
    return sorted((qbxml_ref / "samples" / "constructed").glob("*.xml")) + sorted((qbxml_ref / "samples" / "intuit-sdk-samples").glob("*.xml"))


def covered_by_fallback(text: str) -> bool:
    """The built-in subset covers the request types ml-connector sends, not e.g. InvoiceAdd."""
    msgs = etree.fromstring(text.encode()).find("QBXMLMsgsRq")
    return all(rq.tag in CONTENT_MODELS for rq in msgs if isinstance(rq.tag, str))


def to_text(root: etree._Element) -> str:
    return '<?xml version="1.0" encoding="utf-8"?>\n<?qbxml version="13.0"?>\n' + etree.tostring(root, encoding="unicode")


def mutations(text: str) -> Iterator[tuple[str, str]]:
    """(label, qbXML text) variants of one request message set."""
    base = etree.fromstring(text.encode())
    paths = [base.getroottree().getpath(el) for el in base.iter() if isinstance(el.tag, str)]
    for path in paths:

        def clone(path: str = path) -> tuple[etree._Element, etree._Element]:
            root = copy.deepcopy(base)
            return root, root.getroottree().xpath(path)[0]

        root, el = clone()
        if el.tag in ("QBXML", "QBXMLMsgsRq"):
            continue
        parent = el.getparent()
        # swap with the next sibling of another name: element order
        nxt = el.getnext()
        while nxt is not None and not isinstance(nxt.tag, str):
            nxt = nxt.getnext()
        if nxt is not None and nxt.tag != el.tag:
            parent.remove(nxt)
            el.addprevious(nxt)
            yield f"swap {path} {nxt.tag}", to_text(root)
        root, el = clone()
        el.getparent().remove(el)
        yield f"remove {path}", to_text(root)
        root, el = clone()
        el.addnext(copy.deepcopy(el))
        yield f"duplicate {path}", to_text(root)
        root, el = clone()
        el.insert(0, etree.Element("Bogus"))
        yield f"unknown child in {path}", to_text(root)
        root, el = clone()
        leaf_text = el.text or ""
        if len(el) == 0:
            el.text = "X" * 5000
            yield f"overlong {path}", to_text(root)
            root, el = clone()
            el.text = leaf_text + "Z" * 40
            yield f"longer {path}", to_text(root)
            if el.tag in AMOUNT_TAGS:
                for bad in BAD_AMOUNTS:
                    root, el = clone()
                    el.text = bad
                    yield f"amount {bad} {path}", to_text(root)
            if leaf_text in ("true", "false"):
                root, el = clone()
                el.text = "yes"
                yield f"bool {path}", to_text(root)
            if el.tag.endswith("Date"):
                root, el = clone()
                el.text = "2024-13-45"
                yield f"date {path}", to_text(root)


def accepted(validator: Validator, text: str) -> bool:
    try:
        validator.check(text)
    except QBXMLSetError as exc:
        assert exc.hresult == "0x80040400"
        return False
    return True


@pytest.fixture
def xsd(xsd_path: Path) -> etree.XMLSchema:
    schema = load_xsd(str(xsd_path))
    assert schema is not None
    return schema


def xsd_accepts(xsd: etree.XMLSchema, text: str) -> bool:
    return xsd.validate(etree.fromstring(text.encode()).getroottree())


def test_reference_samples_are_accepted(xsd: etree.XMLSchema, qbxml_ref: Path) -> None:
    assert len(samples(qbxml_ref)) >= 17
    for path in samples(qbxml_ref):
        text = path.read_text(encoding="utf-8")
        assert xsd_accepts(xsd, text), path.name
        assert accepted(Validator(), text), path.name
        if covered_by_fallback(text):
            assert accepted(Validator(use_xsd=False), text), path.name


def test_simulator_and_fallback_agree_with_xsd_over_mutations(xsd: etree.XMLSchema, xsd_path: Path, qbxml_ref: Path) -> None:
    strict, fallback = Validator(xsd_path=str(xsd_path)), Validator(use_xsd=False)
    total = rejected = 0
    wrong: list[str] = []
    for path in samples(qbxml_ref):
        original = path.read_text(encoding="utf-8")
        check_fallback = covered_by_fallback(original)
        for label, text in mutations(original):
            total += 1
            by_xsd = xsd_accepts(xsd, text)
            rejected += not by_xsd
            if accepted(strict, text) != by_xsd:
                wrong.append(f"{path.name}: {label}: sim={not by_xsd} xsd={by_xsd}")
            if check_fallback and accepted(fallback, text) != by_xsd:
                wrong.append(f"{path.name}: {label}: fallback={not by_xsd} xsd={by_xsd}")
    assert total > 1000 and 300 < rejected < total  # the mutation set really exercises both outcomes
    assert wrong == [], "\n".join(wrong[:40]) + f"\n... {len(wrong)} disagreements"


def test_missing_processing_instruction_and_bad_xml_are_parse_errors() -> None:
    for text in ('<QBXML><QBXMLMsgsRq onError="stopOnError"/></QBXML>', "<QBXML>", ""):
        assert not accepted(Validator(use_xsd=False), text)


def test_fallback_is_used_when_xsd_absent(tmp_path: Path) -> None:
    v = Validator(xsd_path=str(tmp_path / "missing.xsd"))
    assert v.schema() is None
    bad = (
        '<?xml version="1.0"?><?qbxml version="13.0"?><QBXML><QBXMLMsgsRq onError="stopOnError"><BillAddRq><BillAdd>'
        "<RefNumber>1</RefNumber><VendorRef><FullName>A</FullName></VendorRef></BillAdd></BillAddRq></QBXMLMsgsRq></QBXML>"
    )
    assert not accepted(v, bad)


def test_fallback_agrees_with_xsd_on_payment_currency_and_terms_shapes(xsd: etree.XMLSchema) -> None:
    """The request shapes added for bill payments, currencies and terms (built by the worker's
    builders) and every mutation of them: the built-in subset decides as the XSD does."""
    import datetime as dt
    from decimal import Decimal

    from worker.qbxml.build import build_message_set
    from worker.qbxml.model import (
        Address,
        AppliedToTxn,
        BillAdd,
        BillPaymentCheckAdd,
        BillToPayQuery,
        ExpenseLine,
        JournalEntryAdd,
        JournalLine,
        ListQuery,
        Ref,
        Tagged,
        TxnQuery,
        VendorAdd,
    )

    day = dt.date(2026, 3, 1)
    shapes = [
        BillPaymentCheckAdd(
            Ref("Jane Doe"),
            Ref("Checking"),
            day,
            (AppliedToTxn("1A3-1", Decimal("5")), AppliedToTxn("1A4-1", Decimal("6"))),
            ref_number="CP1",
            ap_account=Ref("Accounts Payable"),
            memo="m",
            exchange_rate=Decimal("1.1"),
            external_guid="9b2e4c1a-0d3f-4a5b-8c7d-112233445566",
        ),
        TxnQuery("Bill", entity=Ref("Office Depot"), exact_ref_number="INV-1", paid_status="All", include_linked_txns=True),
        TxnQuery("BillPaymentCheck", txn_ids=("1A3-1",), include_line_items=True),
        ListQuery("Terms", active_status="All"),
        ListQuery("Currency", full_names=("Euro",)),
        BillToPayQuery(Ref("Jane Doe"), ap_account=Ref("Accounts Payable"), include=("TxnID",)),
        VendorAdd("Lufthansa", vendor_address=Address(addr1="PO Box 1", city="Köln"), account_number="V-1", terms=Ref("Net 30"), currency=Ref("Euro")),
        BillAdd(
            Ref("Lufthansa"),
            day,
            "R1",
            (ExpenseLine(Ref("Travel"), Decimal("1"), customer=Ref("Client A"), billable_status="Billable"),),
            vendor_address=Address(addr1="x"),
            exchange_rate=Decimal("1.08"),
        ),
        JournalEntryAdd(
            day,
            "J1",
            (
                JournalLine("debit", Ref("Travel"), Decimal("1"), entity=Ref("Client A"), billable_status="NotBillable"),
                JournalLine("credit", Ref("Accounts Payable - EUR"), Decimal("1"), entity=Ref("Lufthansa")),
            ),
            currency=Ref("Euro"),
            exchange_rate=Decimal("1.08"),
        ),
    ]
    fallback = Validator(use_xsd=False)
    wrong: list[str] = []
    for shape in shapes:
        text = build_message_set([Tagged("1", shape)])  # type: ignore[arg-type]
        assert covered_by_fallback(text) and xsd_accepts(xsd, text) and accepted(fallback, text), text
        for label, mutated in mutations(text):
            if accepted(fallback, mutated) != xsd_accepts(xsd, mutated):
                wrong.append(f"{type(shape).__name__}: {label}")
    assert wrong == [], "\n".join(wrong[:40])
