"""Console tests run against a real, seeded worker in its own process (worker: trio; console: asyncio)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from console.app import ConsoleApp
from console.client import ApiClient
from tests.helpers.config import ADMIN_TOKEN
from tests.helpers.console_pilot import NOW
from tests.helpers.live import LiveWorker, start_worker


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
