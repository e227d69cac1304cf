"""The Concur simulator's latency model and rate limit (sim/concur/latency.py): calls take the
configured time per data centre, and a company over its limit gets Concur's 429 with
``Retry-After: 0``; the simulator counts every company's calls in flight."""

from __future__ import annotations

import dataclasses
import random

import httpx
import pytest
import trio

from sim.concur.latency import LatencyModel, RateLimit, RateLimiter
from sim.concur.server import PRIMARY, SECONDARY, CompanyParams, ConcurSim

ACME = CompanyParams("acme", "1c3564d9-92bd-495a-a8c8-000000000001", "client-acme", "secret-acme", "reqtok-acme", reports=3, invoices=1)


def acme() -> CompanyParams:
    return dataclasses.replace(ACME)  # the simulator changes its company's params (move_company)


# --- the pure parts ---------------------------------------------------------------------------------


def test_delay_is_fixed_plus_jitter_plus_the_data_centre_s_share():
    model = LatencyModel(fixed_s=0.1, jitter_s=0.3, per_dc_s={SECONDARY: 0.05})
    rng = random.Random(1)
    primary = [model.delay(PRIMARY, rng) for _ in range(500)]
    secondary = [model.delay(SECONDARY, rng) for _ in range(500)]
    assert min(primary) >= 0.1 and max(primary) <= 0.4
    assert max(primary) - min(primary) > 0.25  # the jitter spreads over the range
    assert min(secondary) >= 0.15 and max(secondary) <= 0.45
    assert model.refusal_delay(SECONDARY) == pytest.approx(0.15)  # a 429 skips the jitter
    assert LatencyModel(fixed_s=0.2, jitter_s=0.0).delay(PRIMARY, rng) == 0.2


def test_calls_in_flight_over_the_limit_are_refused_until_one_ends():
    limiter = RateLimiter(RateLimit(max_in_flight=2))
    assert [limiter.arrive("acme", 0.0) for _ in range(3)] == [True, True, False]
    assert limiter.arrive("other", 0.0)  # the limit is per company
    limiter.leave("acme", False)  # the refused call is answered
    assert not limiter.arrive("acme", 0.1)
    limiter.leave("acme", False)
    limiter.leave("acme", True)  # one admitted call ends: room for one more
    assert limiter.arrive("acme", 0.2)
    traffic = limiter.traffic("acme")
    assert (traffic.admitted, traffic.refused, traffic.max_in_flight, traffic.admitted_in_flight) == (3, 2, 3, 2)


def test_calls_per_second_use_a_sliding_window_that_refusals_do_not_fill():
    limiter = RateLimiter(RateLimit(max_per_second=3))
    for at in (0.0, 0.2, 0.4):
        assert limiter.arrive("acme", at)
        limiter.leave("acme", True)
    assert not limiter.arrive("acme", 0.9)  # 3 admitted within the last second
    limiter.leave("acme", False)
    assert limiter.arrive("acme", 1.05)  # the call at 0.0 left the window; the refusal never entered
    limiter.leave("acme", True)
    assert not limiter.arrive("acme", 1.1)
    limiter.leave("acme", False)
    assert limiter.refused == 2


def test_without_a_limit_every_call_is_served_and_still_counted():
    limiter = RateLimiter()
    assert all(limiter.arrive("acme", 0.0) for _ in range(50))
    assert limiter.traffic("acme").max_in_flight == 50 and limiter.refused == 0


# --- over HTTP -----------------------------------------------------------------------------------------


async def _token(http: httpx.AsyncClient, base: str) -> tuple[str, str]:
    form = {
        "client_id": ACME.client_id,
        "client_secret": ACME.client_secret,
        "grant_type": "password",
        "username": ACME.uuid,
        "password": ACME.request_token,
        "credtype": "authtoken",
    }
    answer = (await http.post(base + "/oauth2/v0/token", data=form)).json()
    return answer["access_token"], answer["geolocation"]


async def _timed_get(http: httpx.AsyncClient, url: str, token: str) -> tuple[httpx.Response, float]:
    began = trio.current_time()
    response = await http.get(url, headers={"Authorization": f"Bearer {token}"})
    return response, trio.current_time() - began


@pytest.mark.trio
async def test_calls_take_the_modelled_time_at_each_data_centre(nursery):
    sim = ConcurSim(3, [acme()], latency=LatencyModel(fixed_s=0.1, jitter_s=0.0, per_dc_s={SECONDARY: 0.15}))
    await sim.serve(nursery)
    user = next(iter(sim.companies["acme"].data.employees.values())).uuid
    async with httpx.AsyncClient() as http:
        token, geolocation = await _token(http, sim.base_url)
        response, took = await _timed_get(http, f"{geolocation}/profile/identity/v4/Users/{user}", token)
        assert response.status_code == 200 and took >= 0.1
        sim.move_company("acme", SECONDARY)
        sim.access_tokens.clear()
        token, geolocation = await _token(http, sim.urls[SECONDARY])
        response, took = await _timed_get(http, f"{geolocation}/profile/identity/v4/Users/{user}", token)
        assert geolocation == sim.urls[SECONDARY] and response.status_code == 200 and took >= 0.25


@pytest.mark.trio
async def test_a_company_over_its_limit_gets_concur_s_429_with_retry_after_0(nursery):
    sim = ConcurSim(3, [acme()], latency=LatencyModel(fixed_s=0.2, jitter_s=0.0), rate_limit=RateLimit(max_in_flight=2))
    await sim.serve(nursery)
    user = next(iter(sim.companies["acme"].data.employees.values())).uuid
    answers: list[httpx.Response] = []
    async with httpx.AsyncClient() as http:
        token, geolocation = await _token(http, sim.base_url)

        async def one() -> None:
            answers.append((await _timed_get(http, f"{geolocation}/profile/identity/v4/Users/{user}", token))[0])

        async with trio.open_nursery() as calls:
            for _ in range(5):
                calls.start_soon(one)
        refused = [a for a in answers if a.status_code == 429]
        assert sorted(a.status_code for a in answers) == [200, 200, 429, 429, 429]
        for answer in refused:
            assert answer.headers["retry-after"] == "0"
            body = answer.json()
            assert body["httpStatus"] == "429 - Too Many Requests" and body["error"]["id"] == "security.rate.limit.reached"
        traffic = sim.traffic.traffic("acme")
        assert (traffic.max_in_flight, traffic.refused, traffic.admitted, traffic.in_flight) == (5, 3, 2, 0)
        assert [r.status for r in sim.calls("acme", "/profile/")].count(429) == 3  # recorded like any answer
        # Once the calls ended the company is under its limit again.
        response, _took = await _timed_get(http, f"{geolocation}/profile/identity/v4/Users/{user}", token)
        assert response.status_code == 200
