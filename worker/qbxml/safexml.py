"""One hardened way to parse XML that came from outside (QBWC SOAP bodies, QuickBooks answers).

No DTD is loaded, no entity is expanded, nothing is fetched from the network, and a document
that declares a DOCTYPE at all is refused: neither QBWC nor QuickBooks ever sends one, so a
DOCTYPE can only be an attack (XXE, billion laughs) or garbage.
"""

from __future__ import annotations

import re

from lxml import etree


class UnsafeXmlError(ValueError):
    """The text is not XML we are willing to read; the message is safe to show."""


_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>", re.IGNORECASE)
# Cheap pre-check on the raw text; the parsed docinfo is checked as well (other encodings).
_FORBIDDEN = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
_FORBIDDEN_TEXT = re.compile(r"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)


def _parser() -> etree.XMLParser:
    # A fresh parser per call: lxml parsers keep state and are not safe to share across threads.
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=False,
        collect_ids=False,
    )


def parse_untrusted(data: bytes | str, *, max_bytes: int | None = None) -> etree._Element:
    """The root element of ``data``, or UnsafeXmlError (never any other exception)."""
    try:
        if isinstance(data, str):
            if max_bytes is not None and len(data) > max_bytes:
                raise UnsafeXmlError("document too large")
            if _FORBIDDEN_TEXT.search(data):
                raise UnsafeXmlError("DOCTYPE and ENTITY declarations are not accepted")
            # lxml refuses str input that declares an encoding; the declaration says nothing
            # useful about text that is already decoded, so drop it.
            text = _DECLARATION.sub("", data.lstrip("\ufeff"), count=1)
            root = etree.fromstring(text, _parser())
        else:
            if max_bytes is not None and len(data) > max_bytes:
                raise UnsafeXmlError("document too large")
            if _FORBIDDEN.search(data):
                raise UnsafeXmlError("DOCTYPE and ENTITY declarations are not accepted")
            root = etree.fromstring(data, _parser())
    except UnsafeXmlError:
        raise
    except etree.XMLSyntaxError as exc:
        raise UnsafeXmlError(f"not well-formed XML (line {exc.lineno})") from None
    except Exception:  # lxml raises ValueError/TypeError/LookupError on odd input
        raise UnsafeXmlError("not well-formed XML") from None
    if root is None:
        raise UnsafeXmlError("empty document")
    tree = root.getroottree()
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        raise UnsafeXmlError("DOCTYPE and ENTITY declarations are not accepted")
    for _entity in root.iter(etree.Entity):
        raise UnsafeXmlError("entity references are not accepted")
    return root


def local_name(element: etree._Element) -> str:
    """``{ns}name`` -> ``name``; "" for comments/PIs/entities."""
    tag = element.tag
    if not isinstance(tag, str):
        return ""
    return tag.rpartition("}")[2]


def namespace(element: etree._Element) -> str:
    tag = element.tag
    if not isinstance(tag, str) or not tag.startswith("{"):
        return ""
    return tag[1:].partition("}")[0]


def elements(parent: etree._Element) -> list[etree._Element]:
    """Element children only (no comments, PIs, entities)."""
    return [child for child in parent if isinstance(child.tag, str)]


_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def xml_safe(text: str) -> str:
    """Text with the characters XML 1.0 cannot carry removed (lxml would refuse them)."""
    return _XML_ILLEGAL.sub("", text)
