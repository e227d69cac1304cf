"""Reference files for the qbXML tests: the 13.0 XSD and QuickBooks samples in ../shared/reference."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

REFERENCE = Path(__file__).resolve().parents[2] / ".." / "shared" / "reference"
QBXML_REF = REFERENCE / "qbxml"
XSD_PATH = QBXML_REF / "schema-13.0" / "qbxmlops130.xsd"
SAMPLES = QBXML_REF / "samples"


def _need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"reference files not available ({path.resolve()} is missing; they live in /work/shared)")
    return path


@pytest.fixture(scope="session")
def xsd() -> etree.XMLSchema:
    """The qbXML 13.0 schema that every request we emit must satisfy."""
    return etree.XMLSchema(etree.parse(str(_need(XSD_PATH))))


@pytest.fixture(scope="session")
def samples() -> Path:
    return _need(SAMPLES)
