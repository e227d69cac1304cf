"""How slowly and how grudgingly the simulated Concur answers: a latency model per call and data
centre, and a per-company rate limit that answers 429 with ``Retry-After: 0``.

Both are off by default (``ConcurSim(latency=None, rate_limit=None)``) so the tests stay fast; the
fetch benchmark (bench/fetch.py) and the fetch tests switch them on.

What Concur documents, and what is assumed here (CONCUR-API.md, "Rate limits"):
- No general rate limit is published for Expense or Invoice; only product-specific ones (Quick
  Expense v4 120 requests / 5 min / user, Invoice Pay 10k/min, ...). Assumption: the limit is per
  company (all of one company's calls share it, whichever data centre and API they reach), and is
  either a number of calls in flight, a number of calls per second, or both.
- The one published 429 (``concur/errors/http429.rate_limit.list_v4_bulk.json``) carries
  ``retry-after: 0`` and the body ``{"timestamp", "httpStatus": "429 - Too Many Requests",
  "error": {"id": "security.rate.limit.reached", "message": "Too many requests"}, "path"}``:
  ``Retry-After`` says nothing useful, so the client must back off on its own. The simulator sends
  exactly that (``retry_after`` can be set to something else to test that it is honoured).
- Concur answers a call in roughly 100-400 ms (observed, not documented). Assumption: a fixed part
  plus uniform jitter, plus an extra fixed cost per data centre (a tenant far from its caller).
- Assumption: a refused call (429) is answered after the fixed part only, without the jitter (the
  limit is checked at the front door, before any work), and a refused call is not counted in the
  per-second window (it used no capacity).
- Assumption: the token endpoint (``/oauth2/v0/token``) is slow like any call but not rate limited.
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass, field


@dataclass(frozen=True)
class LatencyModel:
    """Seconds a call takes: ``fixed_s`` + uniform(0, ``jitter_s``) + ``per_dc_s.get(dc, 0)``."""

    fixed_s: float = 0.1
    jitter_s: float = 0.3
    per_dc_s: dict[str, float] = field(default_factory=dict)

    def delay(self, dc: str, rng: random.Random) -> float:
        return self.fixed_s + (rng.uniform(0.0, self.jitter_s) if self.jitter_s > 0 else 0.0) + self.per_dc_s.get(dc, 0.0)

    def refusal_delay(self, dc: str) -> float:
        """A 429 is decided at the front door: the fixed part and the data centre's, no jitter."""
        return self.fixed_s + self.per_dc_s.get(dc, 0.0)


CONCUR_LIKE = LatencyModel(fixed_s=0.1, jitter_s=0.3)  # 100-400 ms, as Concur is observed to answer


@dataclass(frozen=True)
class RateLimit:
    """Per company: at most ``max_in_flight`` calls being answered at once and ``max_per_second``
    calls admitted in any sliding second (None: no such limit). Refused calls get 429 with
    ``Retry-After: <retry_after>`` ("0", as Concur sends it)."""

    max_in_flight: int | None = None
    max_per_second: int | None = None
    retry_after: str = "0"


@dataclass
class CompanyTraffic:
    """What one company's calls looked like to the simulator (for tests and benchmarks)."""

    in_flight: int = 0  # calls arrived and not answered yet, refused ones included
    admitted_in_flight: int = 0  # of those, the ones admitted (the limit counts these)
    max_in_flight: int = 0  # the most calls the company ever had in flight at once
    admitted: int = 0
    refused: int = 0  # answered 429
    recent: deque[float] = field(default_factory=deque)  # admission times within the last second


class RateLimiter:
    """The simulator's bookkeeping of calls per company: ``arrive`` decides, ``leave`` ends the call.
    Pure: the caller passes the clock (``trio.current_time()`` in the server)."""

    def __init__(self, limit: RateLimit | None = None) -> None:
        self.limit = limit
        self.companies: dict[str, CompanyTraffic] = {}

    def traffic(self, company: str) -> CompanyTraffic:
        return self.companies.setdefault(company, CompanyTraffic())

    def arrive(self, company: str, now: float) -> bool:
        """A call from ``company`` arrived at ``now``: True = serve it, False = answer 429.
        Either way ``leave(company, admitted)`` must follow when it has been answered."""
        traffic = self.traffic(company)
        traffic.in_flight += 1
        traffic.max_in_flight = max(traffic.max_in_flight, traffic.in_flight)
        while traffic.recent and traffic.recent[0] <= now - 1.0:
            traffic.recent.popleft()
        limit = self.limit
        if limit is not None and (
            (limit.max_in_flight is not None and traffic.admitted_in_flight >= limit.max_in_flight)
            or (limit.max_per_second is not None and len(traffic.recent) >= limit.max_per_second)
        ):
            traffic.refused += 1
            return False
        traffic.admitted += 1
        traffic.admitted_in_flight += 1
        traffic.recent.append(now)
        return True

    def leave(self, company: str, admitted: bool) -> None:
        traffic = self.traffic(company)
        traffic.in_flight -= 1
        if admitted:
            traffic.admitted_in_flight -= 1

    @property
    def refused(self) -> int:
        return sum(t.refused for t in self.companies.values())
