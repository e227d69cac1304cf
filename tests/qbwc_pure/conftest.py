"""Reference files for the pure QBWC tests: SOAP envelopes, WSDL and .qwc samples in ../shared/reference."""

from __future__ import annotations

from pathlib import Path

import pytest

QBWC_REF = Path(__file__).resolve().parents[2] / ".." / "shared" / "reference" / "qbwc"


@pytest.fixture(scope="session")
def qbwc_ref() -> Path:
    if not QBWC_REF.exists():
        pytest.skip(f"reference files not available ({QBWC_REF.resolve()} is missing; they live in /work/shared)")
    return QBWC_REF
