from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from shared.config import ConfigError, Secret, load_config

ROOT = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mlc.toml"
    path.write_text(text, encoding="utf-8")
    return path


def shipped(tmp_path: Path) -> str:
    return (ROOT / "mlc.toml").read_text(encoding="utf-8")


def test_shipped_config_is_complete_and_valid() -> None:
    config = load_config(ROOT / "mlc.toml", environ={})
    company = config.company("demo")
    assert config.worker.listen == "127.0.0.1:8750"
    assert company.qbwc.username == "demo-sync"
    assert company.mapping.expense_types["AIRFR"] == "Travel:Airfare"
    assert company.mapping.dimensions == {"class": "custom1", "customer_job": "custom2"}
    assert company.posting.post_on_status == ("A_APPR",)
    assert config.worker.data_dir == ROOT / "var"


def test_every_problem_is_one_line_naming_its_key(tmp_path: Path) -> None:
    text = shipped(tmp_path)
    text = text.replace('listen = "127.0.0.1:8750"', 'listen = "8750"')
    text = text.replace('username = "demo-sync"', "username = 7")
    text = text.replace('expense_report_as = "journal_entry"', 'expense_report_as = "invoice"')
    text = text.replace("run_every_minutes = 5", "run_every_minutes = true\ncolour = 1")
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text), environ={})
    problems = caught.value.problems
    assert "mlc.toml: worker.listen: expected host:port, like 127.0.0.1:8750" in problems
    assert "mlc.toml: companies[0].qbwc.username: expected a string, got integer" in problems
    assert "mlc.toml: companies[0].posting.expense_report_as: expected one of 'journal_entry', 'bill'" in problems
    assert "mlc.toml: companies[0].qbwc.run_every_minutes: expected an integer, got boolean" in problems
    assert "mlc.toml: companies[0].qbwc.colour: unknown key" in problems
    assert all("\n" not in p for p in problems)


def test_missing_required_keys(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, '[[companies]]\nid = "acme"\n[companies.concur]\n[companies.qbwc]\n'), environ={})
    problems = caught.value.problems
    for key in ("concur.client_id", "concur.client_secret", "concur.company_uuid", "qbwc.username", "qbwc.file_id", "qbwc.owner_id"):
        assert f"mlc.toml: companies[0].{key}: required" in " ".join(problems) or any(key in p for p in problems), key


def test_secrets_from_environment_and_never_printed(tmp_path: Path) -> None:
    text = shipped(tmp_path).replace('client_secret = "demo-client-secret-not-for-production"', 'client_secret_env = "TEST_CONCUR_SECRET"')
    config = load_config(write(tmp_path, text), environ={"TEST_CONCUR_SECRET": "s3cr3t-value-xyz"})
    secret = config.company("demo").concur.client_secret
    assert isinstance(secret, Secret) and secret.reveal() == "s3cr3t-value-xyz"
    assert "s3cr3t" not in repr(config) and "s3cr3t" not in str(secret) and "s3cr3t" not in f"{secret}"
    assert "s3cr3t-value-xyz" in config.secrets()


def test_unset_environment_secret_is_a_problem(tmp_path: Path) -> None:
    text = shipped(tmp_path).replace('client_secret = "demo-client-secret-not-for-production"', 'client_secret_env = "NOT_SET_ANYWHERE"')
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text), environ={})
    assert caught.value.problems == ["mlc.toml: companies[0].concur.client_secret_env: environment variable NOT_SET_ANYWHERE is not set"]


def test_plain_password_from_environment(tmp_path: Path) -> None:
    text = shipped(tmp_path)
    start = text.index("password_hash = ")
    end = text.index("\n", start)
    text = text[:start] + 'password_env = "QBWC_PW"' + text[end:]
    config = load_config(write(tmp_path, text), environ={"QBWC_PW": "hunter2-hunter2"})
    assert config.company("demo").qbwc.password.reveal() == "hunter2-hunter2"
    assert config.company("demo").qbwc.password_hash is None


def test_not_toml_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, "[worker\nlisten ="), environ={})
    assert caught.value.problems[0].startswith("mlc.toml: not valid TOML")
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "absent.toml", environ={})
    assert "file not found" in caught.value.problems[0]


def test_duplicate_company_ids_and_usernames(tmp_path: Path) -> None:
    text = shipped(tmp_path)
    start = text.index("\n[[companies]]")
    doubled = text + "\n" + text[start:]
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, doubled), environ={})
    assert "mlc.toml: companies[1].id: duplicate company id 'demo'" in caught.value.problems
    assert "mlc.toml: companies[1].qbwc.username: each company needs its own Web Connector username" in caught.value.problems


def test_relative_paths_are_relative_to_the_config_file(tmp_path: Path) -> None:
    shutil.copy(ROOT / "mlc.toml", tmp_path / "mlc.toml")
    config = load_config(tmp_path / "mlc.toml", environ={})
    assert config.worker.data_dir == tmp_path / "var"
    assert config.operator.token_file == tmp_path / "var" / "operator.token"
    assert config.company("demo").concur.webhook_public_keys == (tmp_path / "var" / "demo" / "concur-webhook.pem",)


def test_concur_pays_needs_its_clearing_account(tmp_path: Path) -> None:
    text = shipped(tmp_path).replace('closed_period = "hold"', 'closed_period = "hold"\nconcur_pays = true', 1)
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text), environ={})
    assert any("companies[0].posting.concur_payment_account: required when concur_pays = true" in p for p in caught.value.problems)
    text = text.replace("concur_pays = true", 'concur_pays = true\nconcur_payment_account = " Concur Clearing "', 1)
    posting = load_config(write(tmp_path, text), environ={}).company("demo").posting
    assert posting.concur_pays and posting.concur_payment_account == "Concur Clearing"
    assert not load_config(ROOT / "mlc.toml", environ={}).company("demo").posting.concur_pays  # off by default


def test_invoice_and_currency_keys(tmp_path: Path) -> None:
    text = shipped(tmp_path).replace(
        'closed_period = "hold"', 'closed_period = "hold"\ninvoice_tax_account = "Sales Tax Paid"\nap_accounts = { eur = "Accounts Payable - EUR" }'
    )
    company = load_config(write(tmp_path, text), environ={}).company("demo")
    assert company.posting.invoice_tax_account == "Sales Tax Paid" and company.posting.invoice_shipping_account == ""
    assert company.posting.ap_accounts == {"EUR": "Accounts Payable - EUR"}
    assert company.mapping.terms["Net 30"] == "Net 30"
    bad = shipped(tmp_path).replace(
        'closed_period = "hold"', 'closed_period = "hold"\ninvoice_shipping_account = " "\nap_accounts = { Euro = "AP EUR", USD = 3 }'
    )
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, bad), environ={})
    problems = caught.value.problems
    assert "mlc.toml: companies[0].posting.invoice_shipping_account: must not be empty (leave the key out instead)" in problems
    assert "mlc.toml: companies[0].posting.ap_accounts.Euro: expected an ISO 4217 currency code (three letters, like EUR)" in problems
    assert "mlc.toml: companies[0].posting.ap_accounts.USD: expected a non-empty string" in problems


def test_expense_report_accounts_issue_12(tmp_path: Path) -> None:
    posting = load_config(ROOT / "mlc.toml", environ={}).company("demo").posting
    assert posting.company_paid_payment_types == ("CBCP", "IBCP")
    assert (posting.employee_receivable_account, posting.company_paid_account, posting.cash_advance_account) == ("Employee Advances", "", "Employee Advances")
    text = shipped(tmp_path).replace('employee_receivable_account = "Employee Advances"', 'employee_receivable_account = " "')
    text = text.replace('cash_advance_account = "Employee Advances"', "cash_advance_account = 5")
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text), environ={})
    assert caught.value.problems == [
        "mlc.toml: companies[0].posting.employee_receivable_account: must not be empty (leave the key out instead)",
        "mlc.toml: companies[0].posting.cash_advance_account: expected a string, got integer",
    ]
