"""Small helpers every route module uses."""

from __future__ import annotations

from typing import Any

from quart import Response, current_app, jsonify

from worker.context import WorkerContext

HOST_REFUSED = "unknown Host header: add it to worker.allowed_hosts if this worker is reached under that name"


def context() -> WorkerContext:
    return current_app.extensions["mlc"]


def json_error(status: int, message: str, **extra: Any) -> tuple[Response, int]:
    return jsonify({"error": message, **extra}), status
