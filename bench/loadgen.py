"""A webhook load generator, run as its own process so it does not share the server's core:
``python -m bench.loadgen URL[,URL...] EVENTS.jsonl --mode max|paced [--concurrency C] [--rate R]``.
Several URLs (workers behind no balancer): connections and paced requests go round-robin across
them, as a balancer keeping connections alive to each worker would send them.

EVENTS.jsonl: one ``{"body": "...", "signature": "..."}`` a line (signed beforehand). Prints one JSON
line: sent, ok, statuses, elapsed_s, latencies_ms (per request, from the moment it was sent)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from urllib.parse import urlsplit

import trio


class Connection:
    """A minimal keep-alive HTTP/1.1 client connection on raw trio streams. A general client
    (httpx) tops out near the rate of the servers it would measure; this one costs a few
    microseconds a request, so the figures are the server's."""

    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.buffer = b""

    async def request(self, raw: bytes) -> int:
        await self.stream.send_all(raw)
        while b"\r\n\r\n" not in self.buffer:
            chunk = await self.stream.receive_some(65536)
            if not chunk:
                raise ConnectionError("server closed the connection")
            self.buffer += chunk
        head, _, rest = self.buffer.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split()[1])
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        while len(rest) < length:
            chunk = await self.stream.receive_some(65536)
            if not chunk:
                raise ConnectionError("server closed the connection")
            rest += chunk
        self.buffer = rest[length:]
        return status


def raw_request(host: str, path: str, event: dict) -> bytes:
    body = event["body"].encode("utf-8")
    return (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Concur-Signature: {event['signature']}\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode("ascii") + body


async def run(url: str, events: list[dict], mode: str, concurrency: int, rate: float) -> dict:
    targets = [urlsplit(u) for u in url.split(",")]
    addresses = [(t.hostname or "127.0.0.1", t.port or 80) for t in targets]
    requests = [[raw_request(t.netloc, t.path, e) for e in events] for t in targets]
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    idle: list[list[Connection]] = [[] for _ in targets]

    async def connection(target: int) -> Connection:
        return idle[target].pop() if idle[target] else Connection(await trio.open_tcp_stream(*addresses[target]))

    async def send(target: int, index: int) -> None:
        began = time.perf_counter()
        reused = bool(idle[target])
        conn = await connection(target)
        while True:
            try:
                status = str(await conn.request(requests[target][index]))
                idle[target].append(conn)
                break
            except (OSError, ConnectionError, trio.BrokenResourceError) as exc:
                status = type(exc).__name__
                await conn.stream.aclose()
                if not reused:
                    break
                # A kept-alive connection the server closed while it sat idle (its keep-alive
                # timeout): HTTP clients send again on a new connection, and so does this one, once.
                reused = False
                conn = Connection(await trio.open_tcp_stream(*addresses[target]))
        latencies.append((time.perf_counter() - began) * 1000)
        statuses[status] = statuses.get(status, 0) + 1

    for number in range(concurrency):  # open the connections before the clock starts
        target = number % len(targets)
        idle[target].append(Connection(await trio.open_tcp_stream(*addresses[target])))
    started = time.perf_counter()
    if mode == "max":
        queue = iter(range(len(events)))

        async def loop(target: int) -> None:
            for index in queue:
                await send(target, index)

        async with trio.open_nursery() as nursery:
            for number in range(concurrency):
                nursery.start_soon(loop, number % len(targets))
    else:
        interval = 1.0 / rate
        async with trio.open_nursery() as nursery:
            for index in range(len(events)):
                delay = started + index * interval - time.perf_counter()
                if delay > 0:
                    await trio.sleep(delay)
                nursery.start_soon(send, index % len(targets), index)
    elapsed = time.perf_counter() - started
    for pool in idle:
        for conn in pool:
            await conn.stream.aclose()
    return {"sent": len(events), "ok": statuses.get("200", 0), "statuses": statuses, "elapsed_s": elapsed, "latencies_ms": latencies}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url", help="one URL, or several separated by commas (round-robin)")
    parser.add_argument("events")
    parser.add_argument("--mode", choices=["max", "paced"], default="max")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rate", type=float, default=500.0)
    args = parser.parse_args()
    with open(args.events, encoding="utf-8") as source:
        events = [json.loads(line) for line in source]
    result = trio.run(run, args.url, events, args.mode, args.concurrency, args.rate)
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
