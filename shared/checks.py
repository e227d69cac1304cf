"""What ``mlc check-config`` prints about a valid config."""

from __future__ import annotations

from collections.abc import Sequence

from shared.config import Config


def describe(config: Config, accounts: Sequence[str] = (), store: Sequence[str] = (), usable: bool = True) -> str:
    """``accounts``: the configured accounts as the stored QuickBooks lists know them (numbers and
    full names side by side), from the worker's store; printed before the final "ok". ``store``:
    what was found of the store (PostgreSQL: connection and schema version); ``usable`` False ends
    with "not ok" instead."""
    w = config.worker
    lines = [
        f"config: {config.path}",
        f"worker: listen {w.listen}, public {w.public_url}, data in {w.data_dir}" + (", HTTPS" if w.tls_certfile else ""),
        f"operator tokens: {config.operator.token_file}" + ("" if config.operator.token_file.exists() else " (created on first start)"),
    ]
    for c in config.companies:
        lines.append(f"company {c.id} ({c.name}):")
        lines.append(f"  concur: {c.concur.base_url}, company {c.concur.company_uuid}, sweep every {c.concur.sweep_interval_s:g}s")
        if c.concur.source == "fis":
            lines.append("    source: Financial Integration Service (scope FISVC; North America and EMEA only; Concur is told each outcome)")
        for key in c.concur.webhook_public_keys:
            lines.append(f"    webhook key {key}" + ("" if key.exists() else " (missing: webhooks will be refused until it exists)"))
        if not c.concur.verify_webhook_signature:
            lines.append("    warning: webhook signatures are NOT verified")
        if not c.concur.request_token:
            lines.append("    request token: none (fine once connected)")
        password = "hash in config" if c.qbwc.password_hash else "from environment" if c.qbwc.password else "set with mlc set-password"
        lines.append(f"  qbwc: user {c.qbwc.username}, password {password}, qbXML {c.qbwc.qbxml_version}, every {c.qbwc.run_every_minutes} min")
        lines.append(
            f"    company file: {c.qbwc.company_file} (opened by the Web Connector when QuickBooks is closed)"
            if c.qbwc.company_file
            else "    company file: the one open in QuickBooks (set company_file to post while QuickBooks is closed)"
        )
        p = c.posting
        lines.append(f"  posting: reports as {p.expense_report_as}, on status {', '.join(p.post_on_status)}, vendors {p.vendor_policy}")
        m = c.mapping
        lines.append(
            f"  mapping: {len(m.expense_types)} expense types, {len(m.classes)} classes, {len(m.customers)} customers, dimensions {m.dimensions or 'none'}"
        )
        lines.append(
            f"    accounts from {m.account_source}"
            + (f", {len(m.account_codes)} account codes translated" if m.account_codes else "")
            + (f", {len(m.accounts)} expense type/cost center rules" if m.accounts else "")
        )
    a = config.alerts
    if a.enabled:
        where = ["webhook"] if a.webhook_url else []
        if a.email:
            where.append(f"email to {', '.join(a.email_to)} via {a.smtp_host}:{a.smtp_port} (STARTTLS)")
        lines.append(f"alerts: {'; '.join(where)}; QuickBooks silent after {a.quickbooks_silent_hours:g} h")
    else:
        lines.append("alerts: none configured (see [alerts])")
    lines += store
    lines += accounts
    lines.append("ok" if usable else "not ok: the store cannot be used as configured (see store: above)")
    return "\n".join(lines)
