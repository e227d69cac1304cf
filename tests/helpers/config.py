"""A small but valid mlc.toml for tests: two companies, signature checks off, tokens written up front."""

from __future__ import annotations

from pathlib import Path

from shared.config import Config, load_config

ADMIN_TOKEN = "admin-token-0123456789abcdef"
READER_TOKEN = "reader-token-0123456789abcdef"

COMPANIES = (("acme", "Acme Consulting"), ("globex", "Globex Ltd"))

_COMPANY = """
[[companies]]
id = "{id}"
name = "{name}"
[companies.concur]
base_url = "http://127.0.0.1:9"
client_id = "client-{id}"
client_secret = "secret-{id}-not-real"
company_uuid = "00000000-0000-0000-0000-00000000000{n}"
verify_webhook_signature = false
[companies.qbwc]
username = "{id}-sync"
password_hash = "$argon2id$v=19$m=65536,t=3,p=4$EFmZ4XO7ywSTiYyHiPQ9xA$VQLDIE1HC99TOh4Ia/nQaQcSAtdSkLnoqTsPGRgtd6c"
file_id = "{{FAF95B0C-891A-4578-9057-7CAF0389A2A{n}}}"
owner_id = "{{A73CF5ED-0325-46C2-9A26-DB13B626820{n}}}"
"""


def write_config(directory: Path, store_url: str = "") -> Path:
    """Write ``mlc.toml`` and ``operator.token`` (an admin and a read-only reader) into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    token_file = directory / "operator.token"
    token_file.write_text(f"admin {ADMIN_TOKEN}\nreader {READER_TOKEN} read-only\n", encoding="utf-8")
    text = '[worker]\nlisten = "127.0.0.1:0"\ndata_dir = "var"\nlog_level = "warning"\n\n[operator]\ntoken_file = "operator.token"\n'
    if store_url:
        text += f'\n[store]\nurl = "{store_url}"\n'
    for n, (cid, name) in enumerate(COMPANIES, 1):
        text += _COMPANY.format(id=cid, name=name, n=n)
    path = directory / "mlc.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_config(directory: Path, store_url: str = "") -> Config:
    return load_config(write_config(directory, store_url), environ={})


test_config.__test__ = False  # type: ignore[attr-defined]  # not a pytest test


def auth(token: str = ADMIN_TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
