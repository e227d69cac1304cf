"""The alerts background job: every round, observe -> decide (pure) -> record; then deliver what is
due. It runs in its own nursery task; a slow or down mail server or webhook only delays alerts,
never posting (sends run outside the store's transactions, SMTP in a thread)."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

import httpx
import trio

from shared.clock import parse_iso, utc_now
from shared.config import AlertsConfig
from worker.alerts import core, send
from worker.alerts import store as alert_store
from worker.context import WorkerContext

log = logging.getLogger(__name__)

ROUND_S = 300.0  # one grouped "held or failed" message per company per round at most
DAILY_S = 24 * 3600.0
Clock = Callable[[], dt.datetime]


async def check(ctx: WorkerContext, now: dt.datetime, daily: bool, alerts: AlertsConfig | None = None) -> int:
    """One round of observing and deciding; returns the alerts queued. ``alerts``: the
    ``[alerts]`` settings (default: the worker's config)."""
    config = ctx.config
    alerts = alerts or config.alerts
    names = {c.id: c.name for c in config.companies}

    def step(conn):
        seen = alert_store.observe(conn, config.companies, alerts.quickbooks_silent_hours, now, daily)
        decision = core.decide(seen, alert_store.open_conditions(conn), names)
        return alert_store.record(conn, decision, send.channels(alerts), now, ctx.scrub)

    return await ctx.store.run(step)


async def deliver_due(
    ctx: WorkerContext, now: dt.datetime, http: httpx.AsyncClient, alerts: AlertsConfig | None = None, smtp_timeout_s: float = send.SMTP_TIMEOUT_S
) -> int:
    """Send what is due; each failure is logged and retried later with backoff. Returns sent."""
    alerts = alerts or ctx.config.alerts
    sent = 0
    for row in await ctx.store.run(alert_store.claim_due, now):
        try:
            if row["channel"] == "webhook" and alerts.webhook_url:
                await send.send_webhook(alerts, row["subject"], row["text"], http)
            elif row["channel"] == "email" and alerts.email:
                await send.send_email(alerts, row["subject"], row["text"], smtp_timeout_s)
            else:
                raise send.DeliveryError(f"{row['channel']}: not configured any more")
        except send.DeliveryError as exc:
            gave_up = await ctx.store.run(alert_store.failed, row["id"], now, ctx.scrub(str(exc)))
            log.log(
                logging.ERROR if gave_up else logging.WARNING,
                "alert %s (%s, %s) not delivered%s: %s",
                row["id"],
                row["kind"],
                row["channel"],
                f" after {alert_store.MAX_ATTEMPTS} attempts; giving up" if gave_up else "; will retry",
                ctx.scrub(str(exc)),
            )
            continue
        await ctx.store.run(alert_store.delivered, row["id"], now)
        sent += 1
    return sent


async def send_test(alerts_config, alerts: list[core.Alert], scrub: Callable[[str], str]) -> list[str]:
    """`mlc alerts test`: send ``alerts`` now on every configured channel, without the store.
    Returns one problem line per channel that failed."""
    problems = []
    async with httpx.AsyncClient() as http:
        for channel in send.channels(alerts_config):
            for alert in alerts:
                try:
                    if channel == "webhook":
                        await send.send_webhook(alerts_config, scrub(alert.subject), scrub(alert.text), http)
                    else:
                        await send.send_email(alerts_config, scrub(alert.subject), scrub(alert.text))
                except send.DeliveryError as exc:
                    problems.append(scrub(str(exc)))
                    break
    return problems


async def run(
    ctx: WorkerContext, clock: Clock = utc_now, round_s: float = ROUND_S, alerts: AlertsConfig | None = None, smtp_timeout_s: float = send.SMTP_TIMEOUT_S
) -> None:
    """Forever: a round every ``round_s`` (the daily checks once a day), deliveries as they fall
    due. ``alerts`` (tests): fixed settings instead of the worker's (reloadable) config."""
    next_round = clock()
    next_daily = clock() + dt.timedelta(seconds=round_s)  # not in the busy first moments after a start
    async with httpx.AsyncClient() as http:
        while True:
            now = clock()
            settings = alerts or ctx.config.alerts
            if now >= next_round and settings.enabled:
                daily = now >= next_daily
                try:
                    await check(ctx, now, daily, settings)
                except Exception:
                    log.exception("alert check failed; trying again next round")
                next_round = now + dt.timedelta(seconds=round_s)
                if daily:
                    next_daily = now + dt.timedelta(seconds=DAILY_S)
            try:
                await deliver_due(ctx, now, http, settings, smtp_timeout_s)
            except Exception:
                log.exception("alert delivery failed; trying again next round")
            wake = next_round
            due_at = await ctx.store.run(alert_store.next_due_at)
            if due_at:
                wake = min(wake, max(parse_iso(due_at), clock()))
            await trio.sleep(max((wake - clock()).total_seconds(), min(1.0, round_s)))
