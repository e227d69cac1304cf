from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tomllib
from pathlib import Path

from click.testing import CliRunner

from mlc.cli import main

ROOT = Path(__file__).resolve().parents[2]


def mlc(*args: str, stdin: str | None = None, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mlc.cli", *args], cwd=cwd, input=stdin, capture_output=True, text=True, timeout=60)


def test_version() -> None:
    result = mlc("version")
    assert result.returncode == 0 and result.stdout.startswith("ml-connector ")


def test_check_config_on_the_shipped_config() -> None:
    result = mlc("--config", str(ROOT / "mlc.toml"), "check-config")
    assert result.returncode == 0, result.stderr
    assert "company demo (Demo Consulting LLC)" in result.stdout and result.stdout.rstrip().endswith("ok")


def test_check_config_on_a_broken_config_prints_one_line_per_problem(tmp_path: Path) -> None:
    config = tmp_path / "broken.toml"
    config.write_text('[worker]\nlisten = 8750\nnope = 1\n[[companies]]\nid = "X"\n', encoding="utf-8")
    result = mlc("--config", str(config), "check-config")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert "broken.toml: worker.listen: expected a string, got integer" in lines
    assert "broken.toml: worker.nope: unknown key" in lines
    assert "broken.toml: companies[0].id: expected 1-32 of a-z, 0-9 and -" in lines
    assert all(line.startswith("broken.toml: ") for line in lines)
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_every_command_of_the_contract_exists() -> None:
    runner = CliRunner()
    for command in (
        ["worker"],
        ["console"],
        ["demo"],
        ["check-config"],
        ["qwc"],
        ["set-password"],
        ["concur", "connect"],
        ["concur", "subscribe"],
        ["concur", "subscriptions"],
        ["concur", "unsubscribe"],
        ["plan"],
        ["hold"],
        ["release"],
        ["replay"],
        ["skip"],
        ["reject"],
        ["reconcile"],
        ["audit", "export"],
        ["audit", "verify"],
        ["sim", "concur"],
        ["sim", "webconnector"],
        ["sim", "quickbooks"],
    ):
        result = runner.invoke(main, [*command, "--help"])
        assert result.exit_code == 0, (command, result.output)


def test_qwc_for_the_demo_company(tmp_path: Path) -> None:
    out = tmp_path / "demo.qwc"
    result = mlc("--config", str(ROOT / "mlc.toml"), "qwc", "demo", "-o", str(out))
    assert result.returncode == 0, result.stderr
    text = out.read_text(encoding="utf-8")
    for element in (
        "<AppURL>http://localhost:8750/qbwc</AppURL>",
        "<UserName>demo-sync</UserName>",
        "<QBType>QBFS</QBType>",
        "<OwnerID>{A73CF5ED-0325-46C2-9A26-DB13B626820D}</OwnerID>",
        "<FileID>{FAF95B0C-891A-4578-9057-7CAF0389A2AA}</FileID>",
        "<IsReadOnly>false</IsReadOnly>",
        "<AuthFlags>0xF</AuthFlags>",
        "<RunEveryNMinutes>5</RunEveryNMinutes>",
    ):
        assert element in text


def test_qwc_refuses_an_ip_address_url(tmp_path: Path) -> None:
    config = tmp_path / "mlc.toml"
    config.write_text(
        (ROOT / "mlc.toml").read_text(encoding="utf-8").replace('public_url = "http://localhost:8750"', 'public_url = "https://10.1.2.3:8750"'),
        encoding="utf-8",
    )
    result = mlc("--config", str(config), "qwc", "demo")
    assert result.returncode == 2
    assert "IP" in result.stderr and "Traceback" not in result.stderr


def test_set_password_stores_a_hash_that_authenticates(tmp_path: Path) -> None:
    config = tmp_path / "mlc.toml"
    config.write_text((ROOT / "mlc.toml").read_text(encoding="utf-8"), encoding="utf-8")
    result = mlc("--config", str(config), "set-password", "demo", stdin="a-new-password-1\n")
    assert result.returncode == 0, result.stderr
    from argon2 import PasswordHasher

    from worker.store.db import Store

    store = Store.in_dir(tmp_path / "var")
    try:
        stored = store.run_sync(lambda conn: conn.execute("SELECT password_hash FROM qbwc_credentials WHERE company = 'demo'").fetchone()[0])
    finally:
        store.close()
    assert PasswordHasher().verify(stored, "a-new-password-1")
    assert "a-new-password-1" not in result.stdout + result.stderr


def test_unknown_company_is_a_clear_error() -> None:
    result = mlc("--config", str(ROOT / "mlc.toml"), "qwc", "nosuch")
    assert result.returncode == 2 and "unknown company 'nosuch' (configured: demo)" in result.stderr


def without_mlc_config() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "MLC_CONFIG"}


def broken_config(directory: Path) -> Path:
    config = directory / "broken.toml"
    config.write_text("[worker]\nlisten = 8750\n", encoding="utf-8")
    return config


def test_config_after_the_command_name_is_the_config_used(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mlc.cli", "worker", "--config", str(broken_config(tmp_path))],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env=without_mlc_config(),
    )
    assert result.returncode == 2
    assert result.stderr.splitlines()[0] == "broken.toml: worker.listen: expected a string, got integer", result.stderr


def test_every_command_takes_config_before_or_after_its_name(tmp_path: Path) -> None:
    # A broken config makes each command stop at loading it, so the exit and the problem line prove
    # the --config given after the name (or before it) was the one read.
    broken = str(broken_config(tmp_path))
    runner = CliRunner()
    for command in (
        ["worker"],
        ["console"],
        ["demo", "--headless"],
        ["check-config"],
        ["qwc", "demo"],
        ["set-password", "demo"],
        ["concur", "connect", "demo"],
        ["concur", "subscribe", "demo"],
        ["concur", "subscriptions", "demo"],
        ["concur", "unsubscribe", "demo", "ID"],
        ["plan", "1"],
        ["hold", "1"],
        ["release", "1"],
        ["replay", "1"],
        ["skip", "1"],
        ["reconcile", "demo"],
        ["audit", "export", "demo"],
        ["audit", "verify"],
    ):
        for args in ([*command, "--config", broken], ["--config", broken, *command]):
            result = runner.invoke(main, args, env={"MLC_CONFIG": None})
            assert result.exit_code == 2, (args, result.output)
            assert "broken.toml: worker.listen: expected a string, got integer" in result.stderr, (args, result.output)


def test_demo_runs_in_any_directory_with_the_shipped_configuration(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = subprocess.run(
        [sys.executable, "-m", "mlc.cli", "demo", "--headless", "--reports", "2", "--invoices", "1"],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        timeout=120,
        env=without_mlc_config(),
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert (summary["documents"], summary["posted"], summary["quickbooks_duplicates"]) == (3, 3, 0), summary
    assert summary["concur_total"] == summary["quickbooks_total"]
    assert (elsewhere / "var" / "demo" / "mlc.sqlite3").is_file()  # its data lands where it ran


def test_demo_fis_runs_the_financial_integration_path_and_concur_is_told(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mlc.cli", "demo", "--headless", "--fis", "--reports", "2", "--invoices", "1"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env=without_mlc_config(),
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert (summary["documents"], summary["posted"], summary["quickbooks_duplicates"]) == (3, 3, 0), summary
    assert "accepted 3 posting confirmation(s) for 3 document(s)" in result.stderr


def test_demo_uses_a_config_given_after_its_name(tmp_path: Path) -> None:
    with socket.socket() as a, socket.socket() as b:
        a.bind(("127.0.0.1", 0))
        b.bind(("127.0.0.1", 0))
        worker_port, concur_port = a.getsockname()[1], b.getsockname()[1]
    config = tmp_path / "site" / "mlc.toml"
    config.parent.mkdir()
    config.write_text(
        (ROOT / "mlc.toml")
        .read_text(encoding="utf-8")
        .replace('listen = "127.0.0.1:8750"', f'listen = "127.0.0.1:{worker_port}"')
        .replace('base_url = "http://127.0.0.1:8751"', f'base_url = "http://127.0.0.1:{concur_port}"')
        .replace('data_dir = "var"', 'data_dir = "site-data"'),
        encoding="utf-8",
    )
    result = subprocess.run(
        [sys.executable, "-m", "mlc.cli", "demo", "--headless", "--reports", "1", "--invoices", "1", "--config", str(config)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env=without_mlc_config(),
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1])["posted"] == 2
    assert f"worker on http://127.0.0.1:{worker_port}" in result.stderr
    assert (config.parent / "site-data" / "demo" / "mlc.sqlite3").is_file()
    assert not (tmp_path / "var").exists()


def test_the_shipped_demo_configuration_is_the_checkouts_mlc_toml() -> None:
    # Two files on purpose: mlc/demo.toml ships in the package (the demo runs anywhere); mlc.toml
    # beside the checkout is the same configuration, commented key by key.
    shipped = tomllib.loads((ROOT / "mlc" / "demo.toml").read_text(encoding="utf-8"))
    assert shipped == tomllib.loads((ROOT / "mlc.toml").read_text(encoding="utf-8"))
