"""Console tests run against a real, seeded worker in its own process (worker: trio; console: asyncio)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator

import pytest

from console.app import ConsoleApp
from console.client import ApiClient
from tests.helpers.config import ADMIN_TOKEN
from tests.helpers.live import LiveWorker, start_worker

# "Now" for the console in tests: ages and the status bar's time come out the same on every run.
NOW = dt.datetime(2026, 1, 6, 12, 0, tzinfo=dt.timezone.utc)


@pytest.fixture(scope="module")
def live_worker(tmp_path_factory) -> Iterator[LiveWorker]:
    worker = start_worker(tmp_path_factory.mktemp("worker"))
    yield worker
    worker.stop()


@pytest.fixture
def make_app(live_worker) -> Callable[..., ConsoleApp]:
    def make(url: str | None = None, **kwargs) -> ConsoleApp:  # type: ignore[no-untyped-def]
        client = ApiClient(url or live_worker.url, ADMIN_TOKEN)
        return ConsoleApp(client, label="test-worker", clock=lambda: NOW, **kwargs)

    return make
