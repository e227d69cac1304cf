"""The real ConcurClient against the simulator over HTTP, through each failure mode."""

import dataclasses
import datetime as dt
import logging

import pytest
import trio

from sim.concur.server import PRIMARY, SECONDARY, Fault
from worker.concur.client import CompanyCredentials, ConcurClient
from worker.concur.errors import ConcurHTTPError, ConcurNotFound, ConcurUnavailable, NeedsReconnect, NotConnected
from worker.concur.tokens import MemoryTokenStore

from concur_helpers import FAST, company_params, running


def token_calls(env, dc=None):
    return [r for r in env.sim.calls(prefix="/oauth2/") if dc is None or r.dc == dc]


def a_user(env, company="acme"):
    return next(iter(env.sim.companies[company].data.employees))


@pytest.mark.trio
async def test_connect_exchanges_request_token_and_calls_go_to_geolocation():
    async with running() as env:
        tokens = await env.client.connect("acme")
        assert tokens.geolocation == env.sim.urls[PRIMARY]
        assert env.store.tokens["acme"].refresh_token == tokens.refresh_token
        user = await env.client.get_user("acme", a_user(env))
        assert user["id"] == a_user(env)


@pytest.mark.trio
async def test_first_call_without_tokens_connects_with_the_configured_request_token():
    async with running() as env:
        await env.client.get_user("acme", a_user(env))
        assert len(env.store.saves) == 1 and len(token_calls(env)) == 1


@pytest.mark.trio
async def test_not_connected_without_request_token():
    async with running() as env:
        env.client.companies["acme"] = dataclasses.replace(env.creds("acme"), request_token=None)
        with pytest.raises(NotConnected):
            await env.client.get_user("acme", a_user(env))


@pytest.mark.trio
async def test_token_expiry_mid_run_refreshes_once_and_persists_rotation():
    async with running() as env:
        first = await env.client.connect("acme")
        env.sim.expire_access_tokens("acme")
        await env.client.get_user("acme", a_user(env))  # 401 -> refresh -> retry
        second = env.store.tokens["acme"]
        assert second.refresh_token != first.refresh_token  # rotated and persisted
        assert [s.refresh_token for _, s in env.store.saves] == [first.refresh_token, second.refresh_token]
        assert env.sim.companies["acme"].refresh_tokens[first.refresh_token] is False  # old one is dead
        statuses = [r.status for r in env.sim.calls("acme", "/profile/")]
        assert statuses == [401, 200]
        # The new refresh token works for the next expiry too.
        env.sim.expire_access_tokens("acme")
        await env.client.get_user("acme", a_user(env))
        assert len(env.store.saves) == 3


@pytest.mark.trio
async def test_refresh_ahead_of_expiry_without_a_401():
    async with running() as env:
        await env.client.connect("acme")
        later = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=3600 - 1)
        env.client.now = lambda: later  # our clock says the access token is about to expire
        await env.client.get_user("acme", a_user(env))
        assert [r.status for r in env.sim.calls("acme", "/profile/")] == [200]
        assert len(token_calls(env)) == 2


@pytest.mark.trio
async def test_concurrent_calls_share_one_refresh():
    async with running() as env:
        await env.client.connect("acme")
        env.sim.expire_access_tokens("acme")
        async with trio.open_nursery() as nursery:
            for _ in range(8):
                nursery.start_soon(env.client.get_user, "acme", a_user(env))
        assert len(token_calls(env)) == 2  # connect + exactly one refresh; rotation not raced


@pytest.mark.trio
async def test_code_16_on_connect_reroutes_to_the_named_data_centre():
    async with running([company_params(home=SECONDARY)]) as env:
        tokens = await env.client.connect("acme")
        assert tokens.geolocation == env.sim.urls[SECONDARY]
        assert [(r.dc, r.status) for r in token_calls(env)] == [(PRIMARY, 400), (SECONDARY, 200)]
        await env.client.get_user("acme", a_user(env))
        assert {r.dc for r in env.sim.calls("acme", "/profile/")} == {SECONDARY}


@pytest.mark.trio
async def test_company_moved_refresh_follows_code_16_and_stores_new_geolocation():
    async with running() as env:
        await env.client.connect("acme")
        env.sim.move_company("acme", SECONDARY)
        env.sim.expire_access_tokens("acme")
        await env.client.get_user("acme", a_user(env))
        assert env.store.tokens["acme"].geolocation == env.sim.urls[SECONDARY]
        assert env.sim.calls("acme", "/profile/")[-1].dc == SECONDARY


@pytest.mark.trio
async def test_revoked_refresh_token_marks_needs_reconnect_and_stops_calling():
    async with running() as env:
        await env.client.connect("acme")
        env.sim.revoke_refresh_tokens("acme")
        env.sim.expire_access_tokens("acme")
        with pytest.raises(NeedsReconnect) as info:
            await env.client.get_user("acme", a_user(env))
        assert "invalid_grant" in str(info.value)
        assert env.store.tokens["acme"].needs_reconnect
        before = len(env.sim.requests)
        with pytest.raises(NeedsReconnect):
            await env.client.get_user("acme", a_user(env))
        assert len(env.sim.requests) == before  # no hammering Concur while a person is needed
        # Reconnecting with a new request token clears it.
        env.client.companies["acme"] = dataclasses.replace(env.creds("acme"), request_token=env.sim.company_request_token("acme"))
        await env.client.connect("acme")
        assert not env.store.tokens["acme"].needs_reconnect
        await env.client.get_user("acme", a_user(env))


@pytest.mark.trio
async def test_bad_request_token_marks_needs_reconnect():
    async with running() as env:
        env.sim.invalidate_request_token("acme")
        with pytest.raises(NeedsReconnect):
            await env.client.connect("acme")
        assert env.store.tokens["acme"].needs_reconnect


@pytest.mark.trio
async def test_persistent_401_gets_exactly_one_refresh():
    async with running() as env:
        await env.client.connect("acme")
        env.sim.add_fault(Fault(status=401, count=2, path_prefix="/profile/"))
        with pytest.raises(ConcurHTTPError) as info:
            await env.client.get_user("acme", a_user(env))
        assert info.value.status == 401
        assert len(token_calls(env)) == 2  # connect + one refresh


@pytest.mark.trio
async def test_403_is_treated_like_401():
    async with running() as env:
        await env.client.connect("acme")
        env.sim.add_fault(Fault(status=403, count=1, path_prefix="/profile/"))
        await env.client.get_user("acme", a_user(env))
        assert len(token_calls(env)) == 2


@pytest.mark.trio
async def test_429_honours_retry_after():
    async with running() as env:
        await env.client.connect("acme")
        env.sim.add_fault(Fault(status=429, retry_after="0.2", count=2, path_prefix="/profile/"))
        start = trio.current_time()
        await env.client.get_user("acme", a_user(env))
        assert trio.current_time() - start >= 0.4
        assert [r.status for r in env.sim.calls(prefix="/profile/")][-3:] == [429, 429, 200]


@pytest.mark.trio
async def test_429_with_retry_after_zero_still_backs_off():
    sleeps = []
    async with running() as env:
        await env.client.connect("acme")
        real_sleep = env.client.sleep

        async def recording_sleep(seconds):
            sleeps.append(seconds)
            await real_sleep(seconds)

        env.client.sleep = recording_sleep
        env.sim.add_fault(Fault(status=429, retry_after="0", count=3, path_prefix="/profile/"))
        await env.client.get_user("acme", a_user(env))
        assert len(sleeps) == 3 and all(s > 0 for s in sleeps)
        assert sleeps[2] > sleeps[0] / 2  # grows (with jitter)


@pytest.mark.trio
async def test_503_waits_the_unavailable_pause():
    sleeps = []
    async with running() as env:
        await env.client.connect("acme")
        env.client.sleep = lambda s: (sleeps.append(s), trio.sleep(0))[1]
        env.sim.add_fault(Fault(status=503, count=2))
        await env.client.get_user("acme", a_user(env))
        assert sleeps == [FAST.unavailable_wait, FAST.unavailable_wait]


@pytest.mark.trio
async def test_timeouts_are_retried():
    async with running(policy=dataclasses.replace(FAST, timeout=0.2)) as env:
        await env.client.connect("acme")
        env.sim.add_fault(Fault(delay=1.0, count=2, path_prefix="/profile/"))  # slow responses
        user = await env.client.get_user("acme", a_user(env))
        assert user["id"] == a_user(env)


@pytest.mark.trio
async def test_slow_token_endpoint_and_5xx_are_retried():
    async with running(policy=dataclasses.replace(FAST, timeout=0.2)) as env:
        env.sim.add_fault(Fault(delay=1.0, count=1, path_prefix="/oauth2/"))
        env.sim.add_fault(Fault(status=500, count=1, path_prefix="/oauth2/"))
        await env.client.connect("acme")
        assert env.store.tokens["acme"].refresh_token


@pytest.mark.trio
async def test_gives_up_as_unavailable_after_max_attempts():
    async with running() as env:
        await env.client.connect("acme")
        env.sim.add_fault(Fault(status=502, count=100))
        with pytest.raises(ConcurUnavailable):
            await env.client.get_user("acme", a_user(env))
        assert len(env.sim.calls(prefix="/profile/")) == FAST.max_attempts


@pytest.mark.trio
async def test_network_errors_are_retried_then_unavailable():
    with trio.socket.socket() as sock:  # a port with nobody listening
        await sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    creds = CompanyCredentials("acme", f"http://127.0.0.1:{port}", "c", "s", "u", "r")
    client = ConcurClient([creds], MemoryTokenStore(), policy=FAST)
    try:
        with pytest.raises(ConcurUnavailable):
            await client.connect("acme")
    finally:
        await client.aclose()


@pytest.mark.trio
async def test_404_is_not_found():
    async with running() as env:
        with pytest.raises(ConcurNotFound):
            await env.client.get_user("acme", "00000000-0000-0000-0000-000000000000")
        assert await env.client.get_list_item("acme", "0" * 32) is None


@pytest.mark.trio
async def test_secrets_never_in_logs_or_errors(caplog):
    caplog.set_level(logging.DEBUG)
    params = company_params()
    messages = []
    async with running([params]) as env:
        await env.client.connect("acme")
        env.sim.expire_access_tokens("acme")
        env.sim.add_fault(Fault(status=429, retry_after="0", count=1))
        await env.client.get_user("acme", a_user(env))
        env.sim.revoke_refresh_tokens("acme")
        env.sim.expire_access_tokens("acme")
        try:
            await env.client.get_user("acme", a_user(env))
        except NeedsReconnect as exc:
            messages.append(str(exc) + repr(exc))
        secrets = [params.client_secret, params.request_token] + [value for _, t in env.store.saves for value in (t.access_token, t.refresh_token)]
        messages += [str(env.store.tokens["acme"]), repr(env.creds("acme"))]
    text = caplog.text + "\n".join(messages)
    assert "retry" in caplog.text  # the logs did record the events
    for secret in secrets:
        assert secret not in text


@pytest.mark.trio
async def test_subscriptions_use_an_app_token():
    async with running() as env:
        result = await env.client.subscribe("acme", "https://mlc.example.com/")
        subs = await env.client.list_subscriptions("acme")
        assert [s["id"] for s in subs] == [result["id"]]
        assert subs[0]["webHookConfig"]["endpoint"] == "https://mlc.example.com/webhooks/concur"
        assert subs[0]["topic"] == "public.concur.expense.report"
        assert "saved" in result["message"]
        # Re-subscribing with the same id updates, never duplicates.
        await env.client.subscribe("acme", "https://mlc2.example.com")
        assert len(await env.client.list_subscriptions("acme")) == 1
        assert "deletion" in await env.client.unsubscribe("acme", result["id"])
        assert await env.client.list_subscriptions("acme") == []
        assert "acme" not in env.store.tokens  # no company token was needed
