"""``mlc concur connect|subscribe|subscriptions|unsubscribe``: one Concur call each, from the shell."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import click
import trio

from shared.config import CompanyConfig, Config
from worker.concur.client import ConcurClient
from worker.concur.errors import ConcurError
from worker.concur.sync import make_client
from worker.main import open_context

TOPICS = ("public.concur.expense.report", "public.concur.invoice.paymentrequest")
FIS_TOPICS = ("public.concur.financialintegration",)  # source = "fis": readyForIntegration wakes the FIS poll


def topics_for(company: CompanyConfig) -> tuple[str, ...]:
    return FIS_TOPICS if company.concur.source == "fis" else TOPICS


def _run(config: Config, what: str, work: Callable[[ConcurClient], Awaitable[Any]]) -> int:
    ctx = open_context(config, stderr_log=False)

    async def main() -> Any:
        async with make_client(ctx) as client:
            return await work(client)

    try:
        result = trio.run(main)
    except ConcurError as exc:
        click.echo(f"mlc concur {what}: {exc}", err=True)
        return 1
    finally:
        ctx.store.close()
    if result is not None:
        click.echo(result if isinstance(result, str) else json.dumps(result, indent=2, default=str))
    return 0


def connect(config: Config, company: CompanyConfig) -> int:
    async def work(client: ConcurClient) -> str:
        tokens = await client.connect(company.id)
        return f"connected {company.id}: API calls go to {tokens.geolocation}"

    return _run(config, "connect", work)


def subscribe(config: Config, company: CompanyConfig) -> int:
    async def work(client: ConcurClient) -> list[dict[str, Any]]:
        return [await client.subscribe(company.id, config.worker.public_url, topic=topic) for topic in topics_for(company)]

    return _run(config, "subscribe", work)


def subscriptions(config: Config, company: CompanyConfig) -> int:
    async def work(client: ConcurClient) -> Any:
        return await client.list_subscriptions(company.id)

    return _run(config, "subscriptions", work)


def unsubscribe(config: Config, company: CompanyConfig, subscription_id: str) -> int:
    async def work(client: ConcurClient) -> str:
        return await client.unsubscribe(company.id, subscription_id)

    return _run(config, "unsubscribe", work)
