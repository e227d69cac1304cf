"""A round-robin HTTP load balancer for the tests and the cluster benchmark: each request goes to the next (or a random) worker.

What an administrator's nginx/HAProxy in front of several workers does, reduced to its rules:
no stickiness (the calls of one Web Connector session land on different workers), a request that
could not even connect (a worker down) goes to the next worker, and one that broke off after it
reached a worker is answered 502 and never sent twice (it may have been acted on).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import httpx
import trio
from hypercorn.config import Config as HyperConfig
from hypercorn.trio import serve

HOP_BY_HOP = {b"host", b"connection", b"keep-alive", b"content-length", b"transfer-encoding", b"upgrade"}


@dataclass
class Balancer:
    backends: list[str]
    # (backend, SOAPAction or path) of every request a worker answered, in order
    served: list[tuple[str, str]] = field(default_factory=list)
    refused: int = 0  # requests that broke off after reaching a worker (answered 502)
    # None: strict rotation; a Random: a random first choice per request (with two workers, strict
    # rotation would send every sendRequestXML of a session to the same one)
    rng: random.Random | None = None
    _next: int = 0

    async def app(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        headers = [(k, v) for k, v in scope["headers"] if k.lower() not in HOP_BY_HOP]
        action = next((v.decode() for k, v in scope["headers"] if k.lower() == b"soapaction"), scope["path"])
        target = scope["path"] + (("?" + scope["query_string"].decode()) if scope["query_string"] else "")
        # No pooled connections: a refused connection then always means "never reached a worker".
        if self.rng is not None:
            self._next = self.rng.randrange(len(self.backends))
        async with httpx.AsyncClient(timeout=30.0, limits=httpx.Limits(max_keepalive_connections=0)) as http:
            for _ in range(len(self.backends)):
                backend = self.backends[self._next % len(self.backends)]
                self._next += 1
                try:
                    answer = await http.request(scope["method"], backend + target, content=body, headers=headers)
                except httpx.ConnectError:
                    continue
                except httpx.HTTPError:
                    self.refused += 1
                    break
                self.served.append((backend, action.strip('"').rsplit("/", 1)[-1]))
                out = [(k.encode(), v.encode()) for k, v in answer.headers.items() if k.lower().encode() not in HOP_BY_HOP]
                await send({"type": "http.response.start", "status": answer.status_code, "headers": out})
                await send({"type": "http.response.body", "body": answer.content})
                return
        await send({"type": "http.response.start", "status": 502, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"no worker answered"})

    async def serve(self, nursery: trio.Nursery) -> str:
        """Listen on a free loopback port; returns the balancer's base URL."""
        config = HyperConfig()
        config.bind = ["127.0.0.1:0"]
        config.accesslog = None
        config.loglevel = "WARNING"  # no "Running on ..." line in test and benchmark output
        config.graceful_timeout = 0.5
        binds = await nursery.start(lambda task_status: serve(self.app, config, task_status=task_status))
        return binds[0]
