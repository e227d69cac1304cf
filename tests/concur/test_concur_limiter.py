"""The per-company window of Concur calls in flight (worker/concur/limiter.py): halved by a 429,
once per window, grown back by answers, held by a positive Retry-After; and the client keeping a
company within it against the simulator's rate limit over HTTP."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from sim.concur.latency import LatencyModel, RateLimit
from worker.concur.limiter import AdaptiveLimit

from concur_helpers import PATIENT, company_params, running


async def _answer(limit: AdaptiveLimit, *, throttled: bool = False, retry_after: float = 0.0) -> None:
    async with limit.slot() as slot:
        slot.throttled, slot.retry_after = throttled, retry_after


@pytest.mark.trio
async def test_a_429_halves_the_window_and_answers_grow_it_back():
    limit = AdaptiveLimit(8)
    assert limit.allowed == 8
    await _answer(limit, throttled=True)
    assert (limit.allowed, limit.throttled, limit.decreases) == (4, 1, 1)
    for _ in range(4):
        await _answer(limit)
    assert limit.allowed == 4  # each answer adds 1/window: 4 + 1/4 + 1/4.25 + ... < 5
    await _answer(limit)
    assert limit.allowed == 5  # about a window's worth of answers adds one call
    for _ in range(60):
        await _answer(limit)
    assert limit.allowed == 8  # never past the configured bound


@pytest.mark.trio
async def test_a_burst_of_429s_from_one_window_halves_it_once_and_never_below_one():
    limit = AdaptiveLimit(8)
    sent = trio.Event()

    async def refused() -> None:
        async with limit.slot() as slot:
            await sent.wait()
            slot.throttled = True

    async with trio.open_nursery() as nursery:
        for _ in range(8):  # eight calls on the wire together, all refused
            nursery.start_soon(refused)
        await trio.testing.wait_all_tasks_blocked()
        assert limit.in_flight == 8
        sent.set()
    assert (limit.allowed, limit.throttled, limit.decreases) == (4, 8, 1)
    for _ in range(5):  # one at a time: each was sent after the last decrease
        await _answer(limit, throttled=True)
    assert limit.allowed == 1 and limit.decreases == 6


@pytest.mark.trio
async def test_calls_wait_for_room_in_the_window():
    limit = AdaptiveLimit(2)
    release = trio.Event()
    entered = []

    async def hold(index: int) -> None:
        async with limit.slot():
            entered.append(index)
            await release.wait()

    async with trio.open_nursery() as nursery:
        for index in range(5):
            nursery.start_soon(hold, index)
        await trio.testing.wait_all_tasks_blocked()
        assert len(entered) == 2 and limit.in_flight == 2
        release.set()
    assert sorted(entered) == [0, 1, 2, 3, 4] and limit.max_in_flight == 2


@pytest.mark.trio
async def test_a_positive_retry_after_holds_every_call_of_the_company(autojump_clock):
    limit = AdaptiveLimit(4)
    await _answer(limit, throttled=True, retry_after=30.0)
    began = trio.current_time()
    await _answer(limit)
    assert trio.current_time() - began == pytest.approx(30.0)


def test_a_window_needs_room_for_one_call():
    with pytest.raises(ValueError):
        AdaptiveLimit(0)


@pytest.mark.trio
async def test_the_client_keeps_a_company_within_its_bound_and_backs_off_on_429():
    params = company_params(employees=4)
    async with running([params], policy=PATIENT, latency=LatencyModel(fixed_s=0.03, jitter_s=0.02), rate_limit=RateLimit(max_in_flight=3)) as env:
        env.client.companies["acme"] = env.creds("acme").__class__(**{**env.creds("acme").__dict__, "max_calls_in_flight": 6})
        users = [e.uuid for e in env.sim.companies["acme"].data.employees.values()]
        answers = []

        async def read(user: str) -> None:
            answers.append(await env.client.get_user("acme", user))

        async with trio.open_nursery() as nursery:
            for index in range(60):
                nursery.start_soon(read, users[index % len(users)])
        traffic = env.sim.traffic.traffic("acme")
        limit = env.client.limit("acme")
        assert len(answers) == 60 and all(a["id"] for a in answers)  # every call answered in the end
        assert traffic.max_in_flight <= 6  # never more than the configured bound on the wire
        assert traffic.refused >= 1 and limit.decreases >= 1  # Concur said 429, the window shrank
        assert limit.throttled == traffic.refused
        # Slowed down: after the first window's refusals, 429s stay the exception.
        assert traffic.refused <= 3 + traffic.admitted // 3
