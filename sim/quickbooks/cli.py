"""``mlc sim quickbooks ...``: create and inspect simulated company files."""

from __future__ import annotations

import uuid
from pathlib import Path

import click

from sim.quickbooks.engine import CompanyFile
from sim.quickbooks.report import render
from sim.quickbooks.seed import seed_company
from sim.quickbooks.state import CompanyState


def _guid() -> str:
    return "{" + str(uuid.uuid4()).upper() + "}"


@click.group("quickbooks")
def quickbooks() -> None:
    """Simulated QuickBooks Desktop company files (*.qbsim)."""


@quickbooks.command("new")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--file-id", help="FileID data extension value (the .qwc FileID); new GUID by default.")
@click.option("--owner-id", help="OwnerID the FileID is stored under (the .qwc OwnerID); new GUID by default.")
@click.option("--seed/--no-seed", "seed_data", default=True, show_default=True, help="Seed a chart of accounts, classes, customer:jobs, employees and vendors.")
@click.option("--company-name", default="Demo Consulting LLC", show_default=True)
@click.option("--closing-date", default=None, help="YYYY-MM-DD; transactions on or before it are refused.")
@click.option(
    "--multicurrency/--single-currency", default=False, show_default=True, help="Preference IsMultiCurrencyOn: vendors and A/P accounts in foreign currencies."
)
@click.option("--account-numbers/--no-account-numbers", default=False, show_default=True, help="Preference IsUsingAccountNumbers.")
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
def new(
    file: Path,
    file_id: str | None,
    owner_id: str | None,
    seed_data: bool,
    company_name: str,
    closing_date: str | None,
    multicurrency: bool,
    account_numbers: bool,
    force: bool,
) -> None:
    """Create FILE with a seeded company."""
    if file.exists() and not force:
        raise click.ClickException(f"{file} exists (use --force to overwrite)")
    file_id, owner_id = file_id or _guid(), owner_id or _guid()
    if seed_data:
        cf = seed_company(file_id, owner_id, company_name=company_name, closing_date=closing_date, multicurrency=multicurrency, account_numbers=account_numbers)
    else:
        state = CompanyState(company_name=company_name, closing_date=closing_date, multicurrency=multicurrency, account_numbers=account_numbers)
        state.data_ext[owner_id.upper()] = {"FileID": file_id}
        cf = CompanyFile(state)
    cf.save(file)
    click.echo(f"created {file}: FileID {file_id} OwnerID {owner_id}")


@quickbooks.command("show")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def show(file: Path) -> None:
    """List accounts (numbers), vendors (codes, currencies), bills (open balance), bill payments and
    journal entries, with totals per account and class."""
    try:
        cf = CompanyFile.load(file)
    except (ValueError, KeyError, OSError) as exc:
        raise click.ClickException(f"{file}: not a company file ({exc})") from None
    click.echo(render(cf), nl=False)
