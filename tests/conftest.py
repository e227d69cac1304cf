"""Fixtures every test folder may use: the PostgreSQL server and the store backend switch.

``store_url`` runs a test once per backend: ``""`` (SQLite in data_dir, the default) and a fresh
PostgreSQL database (marked ``postgres``; skipped, saying why, when no server can run here).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mlc.pgserver import PostgresServer

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    server = PostgresServer()
    try:
        server.start()
    except (RuntimeError, OSError, ImportError) as exc:
        server.stop()
        pytest.skip(f"no PostgreSQL server for the tests: {exc}")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh PostgreSQL database holding the current schema (dropped after the test)."""
    url = postgres_server.fresh_database()
    yield url
    postgres_server.drop(url)


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest) -> str:
    """``[store] url`` for this run of the test: "" = SQLite, else a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return ""
    return request.getfixturevalue("postgres_url")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--store",
        choices=("sqlite", "postgres"),
        default="sqlite",
        help="backend of every harness run that names none (mlc.harness.RUN_STORE_URL): postgres runs the whole suite on PostgreSQL",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """With ``--store postgres`` a test run once per backend keeps only its PostgreSQL half: the
    SQLite half is what the plain run is for (CI runs both, on two Pythons)."""
    if config.getoption("--store") != "postgres":
        return
    keep, drop = [], []
    for item in items:
        params = getattr(item, "callspec", None)
        (drop if params is not None and params.params.get("store_url") == "sqlite" else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture(autouse=True)
def _harness_store(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    if request.config.getoption("--store") == "postgres":
        from mlc import harness

        monkeypatch.setattr(harness, "RUN_STORE_URL", lambda: request.getfixturevalue("postgres_url"))
