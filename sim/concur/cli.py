"""``mlc sim concur``: run the Concur simulator on its own."""

from __future__ import annotations

import contextlib
import json

import click
import trio

from sim.concur.data import Report
from sim.concur.latency import LatencyModel, RateLimit
from sim.concur.server import PRIMARY, SECONDARY, CompanyParams, ConcurSim


@click.command("concur")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8760, show_default=True, type=int, help="primary data centre; 0 = any free port")
@click.option("--secondary-port", default=0, show_default=True, type=int, help="second data centre (code 16 routing)")
@click.option("--seed", default=1, show_default=True, type=int)
@click.option("--reports", default=5, show_default=True, type=int)
@click.option("--invoices", default=2, show_default=True, type=int)
@click.option(
    "--profile",
    default="simple",
    show_default=True,
    type=click.Choice(["simple", "realistic", "mixed"]),
    help="realistic: IBCP/personal/itemized/partly approved/cash advance/EUR/tax+shipping shapes",
)
@click.option("--fis", is_flag=True, help="the company uses the Financial Integration Service: approvals queue FIS documents")
@click.option("--company", "company_id", default="demo", show_default=True)
@click.option("--company-uuid", default="5d1a8c3e-6f43-4d85-ba0d-94e844849dc1", show_default=True)
@click.option("--client-id", default="sim-client", show_default=True)
@click.option("--client-secret", default="sim-secret", show_default=True)
@click.option("--request-token", default="sim-request-token", show_default=True)
@click.option("--webhook-url", default=None, help="deliver signed events here")
@click.option("--approve-every", default=2.0, show_default=True, type=float, help="with --webhook-url: approve one pending document every N seconds")
@click.option("--latency-ms", default=0.0, show_default=True, type=float, help="every call takes this long (0 = answer at once; Concur: ~100)")
@click.option("--jitter-ms", default=0.0, show_default=True, type=float, help="plus up to this much more, uniformly (Concur: ~300)")
@click.option("--max-in-flight", default=None, type=int, help="rate limit: 429 (Retry-After: 0) beyond this many calls in flight per company")
@click.option("--max-per-second", default=None, type=int, help="rate limit: 429 (Retry-After: 0) beyond this many calls per second per company")
@click.option(
    "--key-out", type=click.Path(dir_okay=False, writable=True), default=None, help="write the webhook signing public key (PEM) here, for webhook_public_key"
)
def concur(
    host: str,
    port: int,
    secondary_port: int,
    seed: int,
    reports: int,
    invoices: int,
    profile: str,
    fis: bool,
    company_id: str,
    company_uuid: str,
    client_id: str,
    client_secret: str,
    request_token: str,
    webhook_url: str | None,
    approve_every: float,
    latency_ms: float,
    jitter_ms: float,
    max_in_flight: int | None,
    max_per_second: int | None,
    key_out: str | None,
) -> None:
    """Imitate SAP Concur (OAuth, v4/v3 reads, ESS, signed webhooks) for one company."""
    params = CompanyParams(company_id, company_uuid, client_id, client_secret, request_token, reports=reports, invoices=invoices, profile=profile, fis=fis)
    latency = LatencyModel(fixed_s=latency_ms / 1000, jitter_s=jitter_ms / 1000) if latency_ms or jitter_ms else None
    limit = RateLimit(max_in_flight=max_in_flight, max_per_second=max_per_second) if max_in_flight or max_per_second else None
    sim = ConcurSim(seed, [params], latency=latency, rate_limit=limit)
    if key_out:
        sim.write_public_key(key_out)

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            await sim.serve(nursery, host, port, secondary_port)
            click.echo(
                json.dumps(
                    {
                        "primary": sim.urls[PRIMARY],
                        "secondary": sim.urls[SECONDARY],
                        "company": company_id,
                        "company_uuid": company_uuid,
                        "client_id": client_id,
                        "reports": reports,
                        "invoices": invoices,
                        "public_key": key_out,
                    }
                )
            )
            if webhook_url:
                nursery.start_soon(sim.deliver_forever, webhook_url, 1.0)
                data = sim.companies[company_id].data
                for doc in [*data.reports.values(), *data.invoices.values()]:
                    await trio.sleep(approve_every)
                    if isinstance(doc, Report):
                        sim.approve(doc.id)
                    else:
                        sim.approve_invoice(doc.id)
                    click.echo(f"approved {doc.id}")

    with contextlib.suppress(KeyboardInterrupt):
        trio.run(main)


if __name__ == "__main__":
    concur()
