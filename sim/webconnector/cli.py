"""``mlc sim webconnector ...``: run Web Connector sessions against a live QBWC service."""

from __future__ import annotations

import math
from pathlib import Path

import click
import trio

from sim.quickbooks.engine import CompanyFile
from sim.quickbooks.latency import LatencyModel, SimClock
from sim.webconnector.client import SessionReport, run_every
from sim.webconnector.knobs import FaultKnobs


@click.command("webconnector")
@click.option("--url", required=True, help="The QBWC service URL, e.g. http://127.0.0.1:8750/qbwc")
@click.option("--company-file", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--username", default="demo-sync", show_default=True)
@click.option("--password", default=None, envvar="MLC_QBWC_PASSWORD", help="Or MLC_QBWC_PASSWORD; prompted when missing.")
@click.option("--owner-id", default=None, help="The .qwc OwnerID (default: the company file's only one).")
@click.option("--every", "every_s", type=float, default=None, help="Seconds between sessions (Auto-Run).")
@click.option("--once", is_flag=True, help="One session, then exit (the default without --every).")
@click.option("--sessions", type=int, default=None, help="Stop after this many sessions.")
@click.option("--latency-scale", type=float, default=1.0, show_default=True, help="Scale all simulated waits (0 = none).")
@click.option("--quickbooks-closed", is_flag=True, help="connectionError 0x80040408.")
@click.option("--other-company-open", is_flag=True, help="connectionError 0x8004040A.")
@click.option("--modal-dialog", is_flag=True, help="connectionError 0x80040414.")
@click.option("--lose-response-probability", type=float, default=0.0, show_default=True)
@click.option("--kill-after-calls", type=int, default=None, help="Kill the Web Connector after N SOAP calls per session.")
@click.option("--network-latency", type=float, default=0.0, show_default=True, help="Seconds per SOAP call.")
@click.option("--user-edits-vendor", multiple=True, help="Vendor edited in QuickBooks before each session.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--cafile", type=click.Path(exists=True, dir_okay=False), default=None, help="CA bundle for an https URL.")
@click.option("--insecure", is_flag=True, help="Do not verify the https certificate (self-signed demos).")
def webconnector(
    url: str,
    company_file: Path,
    username: str,
    password: str | None,
    owner_id: str | None,
    every_s: float | None,
    once: bool,
    sessions: int | None,
    latency_scale: float,
    quickbooks_closed: bool,
    other_company_open: bool,
    modal_dialog: bool,
    lose_response_probability: float,
    kill_after_calls: int | None,
    network_latency: float,
    user_edits_vendor: tuple[str, ...],
    seed: int,
    cafile: str | None,
    insecure: bool,
) -> None:
    """Act as QuickBooks Web Connector against URL, posting into COMPANY_FILE (saved after each session)."""
    if password is None:
        password = click.prompt("Web Connector password", hide_input=True)
    company = CompanyFile.load(company_file, latency=LatencyModel())
    knobs = FaultKnobs(
        quickbooks_closed=quickbooks_closed,
        other_company_open=other_company_open,
        modal_dialog=modal_dialog,
        lose_response_probability=lose_response_probability,
        kill_after_calls=kill_after_calls,
        network_latency_s=network_latency,
        user_edits_vendors=user_edits_vendor,
        seed=seed,
    )
    clock = SimClock(scale=latency_scale)
    limit = 1 if (once or every_s is None) else sessions
    failed = False

    def on_report(report: SessionReport) -> None:
        nonlocal failed
        company.save(company_file)
        failed = failed or bool(report.failures) or report.ended_by in ("failure", "connectionError")
        click.echo(report.summary())
        for error in report.errors:
            click.echo(f"  error: {error}")

    trio.run(
        lambda: run_every(
            url,
            username,
            password,
            company,
            interval_s=every_s or 0.0,
            stop_when=lambda reports: False,
            knobs=knobs,
            clock=clock,
            owner_id=owner_id,
            on_report=on_report,
            max_sessions=limit if limit is not None else math.inf,
            verify=False if insecure else (cafile or True),
        )
    )
    if failed:
        raise SystemExit(1)
