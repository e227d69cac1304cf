"""What every part of a running worker shares: config, store, metrics, wake-ups, secrets."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import trio

from shared.config import Config
from shared.tokens import OperatorToken
from worker.bus import Pulse, Urgency
from worker.cluster import new_worker_id
from worker.logs import Scrubber
from worker.metrics import Metrics
from worker.store.db import Store

if TYPE_CHECKING:
    from worker.store.pg import PgStore


@dataclass
class WorkerContext:
    config: Config
    store: Store | PgStore
    operator_tokens: list[OperatorToken]
    scrub: Scrubber = field(default_factory=Scrubber)
    metrics: Metrics = field(default_factory=Metrics)
    # Rings when documents change state (the operator stream and the planner listen).
    changed: Pulse = field(default_factory=Pulse)
    # Rings when new Concur events are stored (the fetcher listens).
    inbox: Pulse = field(default_factory=Pulse)
    # Held from QuickBooks' answer until its next message set is out: the planner steps aside.
    quickbooks_waits: Urgency = field(default_factory=Urgency)
    # Set when a graceful stop begins, so long-lived responses (SSE) end instead of being waited for.
    stopping: trio.Event = field(default_factory=trio.Event)
    # Set by a config reload; read by everything that plans or maps.
    config_generation: int = 0
    # (inode, size, mtime) of the token file when operator_tokens was read from it.
    tokens_signature: tuple[int, int, int] | None = None
    # This process among the workers sharing the store (leases, cross-worker wake-ups).
    worker_id: str = field(default_factory=new_worker_id)

    def reload(self, config: Config) -> None:
        self.config = config
        self.config_generation += 1
        self.changed.notify()
