"""Alerts (issue 14 §5): the pure decisions, and delivery through a real SMTP server (STARTTLS)
and a real HTTP receiver on loopback, against a worker fed by the simulators."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import httpx
import pytest
import trio

from mlc import harness
from shared.clock import iso, utc_now
from shared.config import ConfigError, load_config
from tests.helpers.alert_receivers import silent_smtp, smtp_server, webhook_receiver
from worker.alerts import core, job
from worker.alerts import store as alert_store
from worker.alerts.core import Finding, HeldNews, Kind, Observations, decide
from worker.posting.actions import apply_action
from worker.store.pg import PgConnection

from e2e_qb_helpers import DEMO_CONFIG, approve_and_deliver, doc_states, query, running, wait_fetched

# --- pure core ---------------------------------------------------------------------------------


def test_a_condition_is_announced_once_and_again_when_it_clears() -> None:
    silent = Finding(Kind.QUICKBOOKS_SILENT, "demo", "QuickBooks has not been reached for 30 hours")
    first = decide(Observations([silent], checked={Kind.QUICKBOOKS_SILENT}), {})
    assert [a.kind for a in first.alerts] == [Kind.QUICKBOOKS_SILENT] and first.opened == (silent,)
    still = decide(Observations([silent], checked={Kind.QUICKBOOKS_SILENT}), {(Kind.QUICKBOOKS_SILENT, "demo"): silent.summary})
    assert still.alerts == () and still.opened == () and still.cleared == ()
    gone = decide(Observations([], checked={Kind.QUICKBOOKS_SILENT}), {(Kind.QUICKBOOKS_SILENT, "demo"): silent.summary})
    assert gone.cleared == ((Kind.QUICKBOOKS_SILENT, "demo"),)
    assert gone.alerts[0].cleared and "Cleared" in gone.alerts[0].text and silent.summary in gone.alerts[0].text
    # A daily kind is not cleared by a round that did not look at it.
    daily = decide(Observations([], checked={Kind.QUICKBOOKS_SILENT}), {(Kind.AUDIT_CHAIN, "*"): "broken"})
    assert daily.cleared == () and daily.alerts == ()


def test_held_documents_are_grouped_per_company_with_counts_and_top_reasons() -> None:
    news = HeldNews("demo", 3, 1, (("expense type AIRFR is not mapped", 2), ("class X missing", 1), ("a", 1), ("b", 1)), "2026-12-05T10:00:00.000000Z")
    seen = Observations(news=[news], checked={Kind.DOCUMENTS}, companies_with_held={"demo"})
    d = decide(seen, {}, {"demo": "Demo Consulting LLC"})
    assert len(d.alerts) == 1 and d.watermarks == (("demo", news.newest),)
    text = d.alerts[0].text
    assert "3 newly held and 1 newly failed" in text and "expense type AIRFR is not mapped (2)" in text and "b (1)" not in text
    assert "Demo Consulting LLC" in d.alerts[0].subject
    # Still held, nothing new: silence; none held any more: cleared.
    assert decide(Observations(checked={Kind.DOCUMENTS}, companies_with_held={"demo"}), {(Kind.DOCUMENTS, "demo"): text}).alerts == ()
    assert decide(Observations(checked={Kind.DOCUMENTS}), {(Kind.DOCUMENTS, "demo"): text}).alerts[0].cleared


def alerts_toml(tmp_path: Path, body: str) -> Path:
    """The shipped config with ``body`` as its [alerts] table."""
    import tomllib

    import tomli_w

    raw = tomllib.loads(DEMO_CONFIG.read_text(encoding="utf-8"))
    raw["alerts"] = tomllib.loads(body)
    path = tmp_path / "alerts.toml"
    path.write_text(tomli_w.dumps(raw), encoding="utf-8")
    return path


def test_alerts_config_is_validated(tmp_path) -> None:
    with pytest.raises(ConfigError) as problems:
        load_config(alerts_toml(tmp_path, 'email_to = ["ops@example.com"]\nurl_env = "NO_SUCH_VAR_ML"\nsmtp_port = 0\n'), environ={})
    text = "\n".join(problems.value.problems)
    for key in ("alerts.smtp_host: required", "alerts.email_from: required", "alerts.url_env: environment variable", "alerts.smtp_port"):
        assert key in text
    config = load_config(
        alerts_toml(tmp_path, 'url_env = "HOOK"\nsmtp_password_env = "PW"\n'), environ={"HOOK": "https://hooks.example.com/T0/B0/s3cr3t", "PW": "smtp-pass"}
    )
    assert config.alerts.webhook_url.reveal().endswith("s3cr3t") and "s3cr3t" not in repr(config.alerts)
    assert "https://hooks.example.com/T0/B0/s3cr3t" in config.secrets() and "smtp-pass" in config.secrets()
    assert config.alerts.quickbooks_silent_hours == 24 and not config.alerts.email


# --- through real receivers ------------------------------------------------------------------------


def receivers_config(tmp_path: Path, hook_url: str, smtp_port: int, ca: Path | None, silent_hours: int = 1):
    body = (f'webhook_url = "{hook_url}"\n' if hook_url else "") + (
        f'email_to = ["ops@example.com"]\nsmtp_host = "127.0.0.1"\nsmtp_port = {smtp_port}\nemail_from = "ml-connector@example.com"\n'
        f"quickbooks_silent_hours = {silent_hours}\n" + (f'smtp_ca_file = "{ca}"\n' if ca else "")
    )
    return load_config(alerts_toml(tmp_path, body)).alerts


def delivered_kinds(hook, box) -> tuple[list[str], list[str]]:
    """The subjects (kind titles) received on each channel, in order."""
    return [b["text"].split("\n", 1)[0].strip("*") for b in hook.bodies], [" ".join(str(m["Subject"]).split()) for m in box.messages]


async def wait_all_fetched(h) -> None:
    """Every delivered document fetched from Concur (a hold is for documents the worker has)."""
    with trio.fail_after(20):
        while await query(h, "SELECT 1 FROM documents WHERE state = 'received'"):
            await trio.sleep(0.05)


def _tamper_audit(conn) -> None:
    # What someone editing the database by hand can do.
    conn.execute("DROP TRIGGER audit_no_update ON audit" if isinstance(conn, PgConnection) else "DROP TRIGGER audit_no_update")
    conn.execute("UPDATE audit SET detail = '{\"edited\":true}' WHERE id = 1")


@pytest.mark.trio
async def test_each_alert_kind_delivered_once_not_repeated_and_cleared(tmp_path):
    async with running(tmp_path, reports=4, invoices=2) as h:
        ctx = h.worker.ctx
        store = ctx.store
        with smtp_server(tmp_path) as box, webhook_receiver() as hook:
            cfg = receivers_config(tmp_path, hook.url, box.port, box.ca_path)
            k = await approve_and_deliver(h)
            await wait_fetched(h, k)
            await wait_all_fetched(h)
            held_ids = [r["id"] for r in await query(h, "SELECT id FROM documents ORDER BY id LIMIT 2")]
            for doc_id in held_ids:
                await store.run(apply_action, doc_id, "hold", "waiting for the receipts", "ops")
            t0 = utc_now()
            await store.run(lambda c: c.execute("UPDATE concur_tokens SET refresh_expires_at = ?", (iso(t0 + dt.timedelta(days=3)),)))

            async with httpx.AsyncClient() as http:

                async def round_at(now, daily):
                    queued = await job.check(ctx, now, daily, cfg)
                    sent = await job.deliver_due(ctx, now, http, cfg)
                    return queued, sent

                # Nothing posted for 2 hours (limit 1), two documents held, the token close to its end.
                now = t0 + dt.timedelta(hours=2)
                result = await round_at(now, daily=True)
                hooks, mails = delivered_kinds(hook, box)
                assert result == (3, 6), (mails, await doc_states(h))
                assert hooks == mails and len(hooks) == 3
                assert sorted(s.split(": ", 1)[1] for s in mails) == sorted(
                    core.TITLES[k] for k in (Kind.DOCUMENTS, Kind.QUICKBOOKS_SILENT, Kind.CONCUR_TOKEN_EXPIRING)
                )
                assert box.tls_sessions == 3  # every mail went over STARTTLS
                # The same conditions a round later (and after a worker restart: the state is data): silence.
                assert await round_at(now + dt.timedelta(minutes=5), daily=True) == (0, 0)

                # QuickBooks comes back and posts; the books are then edited behind our back, the
                # audit trail too, and Concur revokes the refresh token.
                await harness.drain(h, expected=k - 2, timeout_s=30)
                await store.run(
                    lambda c: c.execute(
                        "UPDATE postings SET request_xml = replace(request_xml, '<Amount>', '<Amount>1') WHERE id = (SELECT MIN(id) FROM postings WHERE state = 'done' AND op = 'JournalEntryAdd')"
                    )
                )
                await store.run(_tamper_audit)
                await store.run(
                    lambda c: c.execute(
                        "UPDATE concur_tokens SET needs_reconnect = 1, reason = 'refresh token revoked', refresh_expires_at = ?",
                        (iso(t0 + dt.timedelta(days=180)),),
                    )
                )
                now += dt.timedelta(hours=1)
                queued, sent = await round_at(now, daily=True)
                hooks, mails = delivered_kinds(hook, box)
                new = sorted(s.split(": ", 1)[1] for s in mails[3:])
                assert new == sorted(
                    [
                        "cleared: " + core.TITLES[Kind.QUICKBOOKS_SILENT],
                        "cleared: " + core.TITLES[Kind.CONCUR_TOKEN_EXPIRING],
                        core.TITLES[Kind.CONCUR_RECONNECT],
                        core.TITLES[Kind.RECONCILE_DIFFERENCE],
                        core.TITLES[Kind.AUDIT_CHAIN],
                    ]
                )
                assert (queued, sent) == (5, 10) and hooks == mails

                # The held documents are released and post: the held condition clears; Concur reconnected.
                for doc_id in held_ids:
                    await store.run(apply_action, doc_id, "release", "receipts arrived", "ops")
                await harness.drain(h, expected=k, timeout_s=30)
                await store.run(lambda c: c.execute("UPDATE concur_tokens SET needs_reconnect = 0, reason = ''"))
                now += dt.timedelta(hours=1)
                await round_at(now, daily=False)  # the daily checks (reconcile, audit) stay open
                hooks, mails = delivered_kinds(hook, box)
                assert sorted(s.split(": ", 1)[1] for s in mails[8:]) == sorted(
                    ["cleared: " + core.TITLES[Kind.DOCUMENTS], "cleared: " + core.TITLES[Kind.CONCUR_RECONNECT]]
                )
                assert await round_at(now + dt.timedelta(minutes=5), daily=False) == (0, 0)

            # Each kind opened exactly once per channel; no secret or token in any alert.
            for kind in Kind:
                assert sum(1 for s in mails if s.endswith(": " + core.TITLES[kind]) and "cleared" not in s) == 1, kind
            tokens = [v for r in await query(h, "SELECT access_token, refresh_token FROM concur_tokens") for v in r if v]
            everything = "\n".join([b["text"] for b in hook.bodies] + [m.get_content() for m in box.messages])
            for secret in h.config.secrets() + tokens + [h.password]:
                assert secret not in everything
            assert "held" in everything and "waiting for the receipts (2)" in everything


@pytest.mark.trio
async def test_a_hung_mail_server_does_not_block_posting_and_the_alert_is_retried(tmp_path):
    async with running(tmp_path, reports=3, invoices=1) as h:
        ctx = h.worker.ctx
        with silent_smtp() as port:
            cfg = receivers_config(tmp_path, "", port, None)
            offset = [dt.timedelta(0)]
            k = await approve_and_deliver(h)
            await wait_fetched(h, k)
            await wait_all_fetched(h)
            first = (await query(h, "SELECT id FROM documents ORDER BY id LIMIT 1"))[0]["id"]
            await ctx.store.run(apply_action, first, "hold", "waiting for the receipts", "ops")
            async with trio.open_nursery() as nursery:
                # The worker's own alerts job loop, with a short round and an injectable clock.
                nursery.start_soon(lambda: job.run(ctx, clock=lambda: utc_now() + offset[0], round_s=0.05, alerts=cfg, smtp_timeout_s=5))

                async def sending():
                    rows = await query(h, "SELECT attempts FROM alert_deliveries")
                    return rows

                with trio.fail_after(10):
                    while not await sending():
                        await trio.sleep(0.05)
                # The alert is stuck in the hung SMTP conversation; posting goes on meanwhile.
                started = trio.current_time()
                counts = await harness.drain(h, expected=k, timeout_s=30)
                assert counts.get("held") == 1 and counts.get("posted", 0) >= k - 1, (counts, k)
                assert trio.current_time() - started < 30
                with trio.fail_after(15):
                    while not (rows := await query(h, "SELECT attempts, state, last_error FROM alert_deliveries WHERE attempts > 0")):
                        await trio.sleep(0.05)
                assert rows[0]["state"] == "pending" and ("TimeoutError" in rows[0]["last_error"] or "timed out" in rows[0]["last_error"]), rows[0][
                    "last_error"
                ]
                nursery.cancel_scope.cancel()
        # The relay is back (same port): the retry, due after its backoff, goes through once.
        with smtp_server(tmp_path, port=port) as box:
            cfg = receivers_config(tmp_path, "", port, box.ca_path)
            async with trio.open_nursery() as nursery:
                offset[0] = dt.timedelta(seconds=alert_store.retry_delay_s(1) + 1)
                nursery.start_soon(lambda: job.run(ctx, clock=lambda: utc_now() + offset[0], round_s=0.05, alerts=cfg, smtp_timeout_s=5))
                with trio.fail_after(15):
                    while not box.messages:
                        await trio.sleep(0.05)
                nursery.cancel_scope.cancel()
            assert len(box.messages) == 1 and "waiting for the receipts" in box.messages[0].get_payload()
            rows = await query(h, "SELECT state, attempts FROM alert_deliveries")
            assert [(r["state"], r["attempts"]) for r in rows] == [("sent", 2)]
        assert (await doc_states(h)).get("held") == 1


def test_mlc_alerts_test_sends_one_of_each_kind_on_every_channel(tmp_path) -> None:
    from click.testing import CliRunner

    from mlc.cli import main

    with smtp_server(tmp_path) as box, webhook_receiver() as hook:
        body = (
            f'url_env = "MLC_TEST_HOOK"\nemail_to = ["ops@example.com"]\nsmtp_host = "127.0.0.1"\nsmtp_port = {box.port}\n'
            f'email_from = "ml-connector@example.com"\nsmtp_ca_file = "{box.ca_path}"\n'
        )
        path = alerts_toml(tmp_path, body)
        result = CliRunner().invoke(main, ["--config", str(path), "alerts", "test"], env={"MLC_TEST_HOOK": hook.url})
        assert result.exit_code == 0, result.output
        assert "webhook: sent 6 test alerts" in result.output and "email: sent 6 test alerts" in result.output
        hooks, mails = delivered_kinds(hook, box)
        assert len(hooks) == len(mails) == len(Kind) and all(s.startswith("TEST ") for s in hooks + mails)
        assert sorted(s.rsplit(": ", 1)[1] for s in mails) == sorted(core.TITLES.values())
        assert hook.url not in "\n".join(b["text"] for b in hook.bodies)
    # Nothing listening any more: a clear line per channel and exit 1, no traceback, no URL.
    result = CliRunner().invoke(main, ["--config", str(path), "alerts", "test"], env={"MLC_TEST_HOOK": hook.url})
    assert result.exit_code == 1 and "webhook: ConnectError" in result.output and "email via 127.0.0.1" in result.output
    assert hook.url not in result.output and "Traceback" not in result.output
