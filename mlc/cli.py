"""``mlc``: the one command line of ml-connector (contract: command names are fixed).

This module is the composition root: it may import every part, and imports each lazily so that
``mlc check-config`` does not load Textual and ``mlc console`` does not load the worker.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import NoReturn

import click

from shared.config import Config, ConfigError, load_config

EXIT_CONFIG = 2


def fail(message: str, status: int = EXIT_CONFIG) -> NoReturn:
    click.echo(message, err=True)
    sys.exit(status)


def not_yet(what: str) -> NoReturn:
    fail(f"mlc {what}: not available in this version yet")


class Context:
    def __init__(self, config_path: str | None = None) -> None:
        self.config_path = config_path
        self._config: Config | None = None

    @property
    def config(self) -> Config:
        if self._config is None:
            try:
                self._config = load_config(self.config_path)
            except ConfigError as exc:
                for problem in exc.problems:
                    click.echo(problem, err=True)
                sys.exit(EXIT_CONFIG)
        return self._config


pass_ctx = click.make_pass_decorator(Context)


CONFIG_HELP = "mlc.toml to use, before or after the command name (default: $MLC_CONFIG, else ./mlc.toml)"


def _config_given(click_ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    """``--config`` after a command name sets what ``mlc --config`` sets; the last one given wins.

    Only a path given on the command line is kept here: ``$MLC_CONFIG`` is read when the config is
    loaded, so ``mlc demo`` can tell "given" (use it) from "not given" (use the shipped demo)."""
    if value is not None:
        click_ctx.ensure_object(Context).config_path = value


def config_option() -> click.Option:
    return click.Option(["--config"], metavar="PATH", expose_value=False, callback=_config_given, help=CONFIG_HELP)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.pass_context
def main(click_ctx: click.Context) -> None:
    """ml-connector: SAP Concur expense reports and invoices into QuickBooks Desktop, exactly once."""
    click_ctx.ensure_object(Context)


main.params.append(config_option())


@main.command()
def version() -> None:
    """Print the version."""
    from importlib.metadata import version as dist_version

    click.echo(f"ml-connector {dist_version('ml-connector')}")


@main.command("check-config")
@pass_ctx
def check_config(ctx: Context) -> None:
    """Validate the config and print what it found."""
    config = ctx.config
    from mlc.tools import accounts_report, store_report
    from shared.checks import describe

    store, usable = store_report(config)
    click.echo(describe(config, accounts_report(config) if usable else (), store, usable))
    if not usable:
        sys.exit(1)


@main.command()
@pass_ctx
def worker(ctx: Context) -> None:
    """Run the worker (QBWC SOAP, webhooks, operator API, background jobs)."""
    import trio

    from worker.main import run_forever
    from worker.store.db import StoreError, open_store

    config = ctx.config
    try:
        open_store(config).close()  # refuse an unusable database before starting anything
    except StoreError as exc:
        fail(f"mlc worker: {exc}")
    with contextlib.suppress(KeyboardInterrupt):
        trio.run(run_forever, config)


@main.command()
@click.option("--url", default=None, help="worker base URL (default: from the config's listen address)")
@click.option("--token-file", type=click.Path(path_type=Path), default=None, help="operator token file (default: from the config)")
@pass_ctx
def console(ctx: Context, url: str | None, token_file: Path | None) -> None:
    """Open the operator console."""
    from console.launch import run_console

    if url is None or token_file is None:
        config = ctx.config
        url = url or local_url(config)
        token_file = token_file or config.operator.token_file
    sys.exit(run_console(url, token_file))


def local_url(config: Config) -> str:
    w = config.worker
    scheme = "https" if w.tls_certfile else "http"
    host = "127.0.0.1" if w.listen_host in ("0.0.0.0", "") else w.listen_host
    host = "[::1]" if host == "::" else (f"[{host}]" if ":" in host else host)
    return f"{scheme}://{host}:{w.listen_port}"


@main.command()
@click.option("--headless", is_flag=True, help="no console: show progress, end with the JSON summary line")
@click.option("--reports", default=25, show_default=True, help="expense reports to generate")
@click.option("--invoices", default=10, show_default=True, help="invoices to generate")
@click.option("--seed", default=7, show_default=True, help="seed of the generated data")
@click.option("--accounts-by-code", is_flag=True, help="post each debit to the account Concur's own account code names (into numbered QuickBooks accounts)")
@click.option("--fis", is_flag=True, help="documents come from Concur's Financial Integration Service, which is told each outcome")
@pass_ctx
def demo(ctx: Context, headless: bool, reports: int, invoices: int, seed: int, accounts_by_code: bool, fis: bool) -> None:
    """Worker + simulated Concur, QuickBooks and Web Connector on loopback, with generated data."""
    from mlc.demo import run_demo

    sys.exit(
        run_demo(
            ctx.config_path,
            headless=headless or not sys.stdout.isatty(),
            reports=reports,
            invoices=invoices,
            seed=seed,
            accounts_by_code=accounts_by_code,
            fis=fis,
        )
    )


@main.command()
@click.argument("company")
@click.option("-o", "--output", type=click.Path(path_type=Path), default=None, help="write here instead of stdout")
@pass_ctx
def qwc(ctx: Context, company: str, output: Path | None) -> None:
    """Write the .qwc file to load into QuickBooks Web Connector."""
    from mlc.tools import QwcError, qwc_for_company

    config = ctx.config
    company_config = company_or_fail(config, company)
    try:
        text = qwc_for_company(config, company_config)
    except QwcError as exc:
        fail(f"mlc qwc: {exc}")
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}", err=True)


@main.command("set-password")
@click.argument("company")
@pass_ctx
def set_password(ctx: Context, company: str) -> None:
    """Store the argon2 hash of the Web Connector password (asked, or read from stdin)."""
    from worker.qbwc.passwords import store_password

    config = ctx.config
    company_or_fail(config, company)
    if sys.stdin.isatty():
        password = click.prompt("Web Connector password", hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if len(password) < 8:
        fail("mlc set-password: use at least 8 characters")
    store_password(config, company, password)
    click.echo(f"password for {company} stored; enter the same one in QuickBooks Web Connector")


@main.group()
def concur() -> None:
    """Concur connection and webhook subscriptions."""


def _concur_command(name: str, help_text: str, *extra: str) -> None:
    """One body for the four ``mlc concur`` commands: each is one call of :mod:`mlc.concur_admin`."""

    @pass_ctx
    def command(ctx: Context, company: str, **arguments: str) -> None:
        from mlc import concur_admin

        config = ctx.config
        sys.exit(getattr(concur_admin, name)(config, company_or_fail(config, company), *(arguments[a] for a in extra)))

    for argument in reversed(extra):
        command = click.argument(argument)(command)
    concur.command(name, help=help_text)(click.argument("company")(command))


_concur_command("connect", "Exchange the company request token for access and refresh tokens.")
_concur_command("subscribe", "Create or update the webhook subscriptions (expense reports, payment requests).")
_concur_command("subscriptions", "List the webhook subscriptions.")
_concur_command("unsubscribe", "Delete one webhook subscription.", "subscription_id")


@main.command()
@click.argument("document")
@pass_ctx
def plan(ctx: Context, document: str) -> None:
    """Dry run: the planned QuickBooks transactions and their exact qbXML; posts nothing."""
    from mlc.tools import plan_command

    sys.exit(plan_command(ctx.config, document))


def _action(name: str):
    @main.command(name)
    @click.argument("document")
    @click.option("--reason", default="", help="why (kept in the audit trail)")
    @click.option(
        "--force", is_flag=True, help="replay a posted document (only if QuickBooks does not have it), or post an invoice held for a bill keyed by hand"
    )
    @pass_ctx
    def command(ctx: Context, document: str, reason: str, force: bool) -> None:
        from mlc.tools import action_command

        sys.exit(action_command(ctx.config, name, document, reason, force))

    command.__doc__ = {
        "hold": "Hold a document: it will not be posted until released.",
        "release": "Release a held document for planning and posting.",
        "replay": "Re-plan and re-post a held or failed document.",
        "skip": "Skip a document: it will never be posted.",
        "reject": "FIS only: send a document back to Concur's processor with an error confirmation (--reason is shown to them).",
    }[name]
    return command


for _name in ("hold", "release", "replay", "skip", "reject"):
    _action(_name)


@main.command()
@click.argument("company")
@click.option("--from", "date_from", default=None, help="first day (YYYY-MM-DD)")
@click.option("--to", "date_to", default=None, help="last day (YYYY-MM-DD)")
@pass_ctx
def reconcile(ctx: Context, company: str, date_from: str | None, date_to: str | None) -> None:
    """Concur approved totals against posted totals per account and class; exit 1 on a difference."""
    from mlc.tools import reconcile_command

    config = ctx.config
    sys.exit(reconcile_command(config, company_or_fail(config, company), date_from, date_to))


@main.command("accept-company-file")
@click.argument("company")
@pass_ctx
def accept_company_file(ctx: Context, company: str) -> None:
    """Accept the company file last refused (a restored backup, a moved file) as the company's own."""
    from mlc.tools import _store, _user
    from worker.qbwc import company_files

    config = ctx.config
    store = _store(config)
    try:
        accepted = store.run_sync(company_files.accept_refused, company_or_fail(config, company).id, f"cli:{_user()}")
    finally:
        store.close()
    if accepted is None:
        fail(f"mlc accept-company-file: no company file of {company} was refused since one was recorded", 1)
    click.echo(f"{company}: posting to {accepted.company_name} at {accepted.path}" + (f" (FileID {accepted.file_id})" if accepted.file_id else " (no FileID)"))


@main.group()
def audit() -> None:
    """The audit trail."""


@audit.command("export")
@click.argument("company")
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl"]), default="jsonl", show_default=True)
@pass_ctx
def audit_export(ctx: Context, company: str, fmt: str) -> None:
    """Write the company's audit trail to stdout."""
    from mlc.tools import audit_export_command

    config = ctx.config
    sys.exit(audit_export_command(config, company_or_fail(config, company), fmt))


@audit.command("verify")
@pass_ctx
def audit_verify(ctx: Context) -> None:
    """Check the audit trail's hash chain; exit 1 when an entry was edited or removed."""
    from mlc.tools import audit_verify_command

    sys.exit(audit_verify_command(ctx.config))


@main.group()
def sim() -> None:
    """The simulators of Concur, QuickBooks and the Web Connector, on their own."""


def _mount_simulators() -> None:
    from importlib import import_module

    for module, attribute in (("sim.concur.cli", "concur"), ("sim.quickbooks.cli", "quickbooks"), ("sim.webconnector.cli", "webconnector")):
        try:
            command = getattr(import_module(module), attribute)
        except (ImportError, AttributeError):

            @click.command(attribute, context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
            def command() -> None:
                not_yet("sim")

            command.name = attribute
        sim.add_command(command, attribute)


_mount_simulators()


@main.group()
def alerts() -> None:
    """Alerts to people (README "Alerts")."""


@alerts.command("test")
@pass_ctx
def alerts_test(ctx: Context) -> None:
    """Send one alert of each kind to the configured webhook and email; exit 1 if one fails."""
    import trio

    from worker.alerts.core import sample_alerts
    from worker.alerts.job import send_test
    from worker.alerts.send import channels
    from worker.logs import Scrubber

    config = ctx.config
    if not config.alerts.enabled:
        fail("mlc alerts test: no [alerts] webhook_url (or url_env) or email_to configured", 1)
    company = config.companies[0]
    samples = sample_alerts(company.id, {c.id: c.name for c in config.companies})
    problems = trio.run(send_test, config.alerts, samples, Scrubber(config.secrets()))
    for problem in problems:
        click.echo(f"mlc alerts test: {problem}", err=True)
    for channel in channels(config.alerts):
        if not any(p.startswith(channel) for p in problems):
            click.echo(f"{channel}: sent {len(samples)} test alerts")
    sys.exit(1 if problems else 0)


def _accept_config_after_the_name(group: click.Group) -> None:
    """Every mlc command (and group) takes ``--config`` after its name too (contract). The
    simulators under ``mlc sim`` are programs of their own that read no mlc.toml: only the ``sim``
    group itself takes it."""
    for command in group.commands.values():
        command.params.append(config_option())
        if isinstance(command, click.Group) and command is not sim:
            _accept_config_after_the_name(command)


_accept_config_after_the_name(main)


def company_or_fail(config: Config, company: str):
    try:
        return config.company(company)
    except KeyError:
        known = ", ".join(c.id for c in config.companies)
        fail(f"unknown company {company!r} (configured: {known})")


if __name__ == "__main__":
    main()
