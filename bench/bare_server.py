"""The intake benchmark's baseline: a bare quart-trio app on Hypercorn whose webhook endpoint only
reads the body and answers 200 (``python -m bench.bare_server PORT``)."""

from __future__ import annotations

import sys

import trio
from hypercorn.config import Config
from hypercorn.trio import serve
from quart import Response, request
from quart_trio import QuartTrio

app = QuartTrio("bare")


@app.post("/webhooks/concur")
async def webhook() -> Response:
    await request.get_data(cache=False)
    return Response('{"stored": true}', content_type="application/json")


@app.get("/healthz")
async def healthz() -> Response:
    return Response("ok")


def main() -> None:
    config = Config()
    config.bind = [f"127.0.0.1:{int(sys.argv[1])}"]
    config.accesslog = None
    config.keep_alive_timeout = 75
    trio.run(serve, app, config)


if __name__ == "__main__":
    main()
