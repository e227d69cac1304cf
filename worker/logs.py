"""Logging: JSON lines under ``data_dir/logs/`` for machines, short lines on stderr for people.

A scrubbing filter replaces every configured secret (and bearer tokens) in the final text of each
record, including tracebacks, so a secret that slips into an exception message still never reaches
a log file.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import re
import sys
from collections.abc import Iterable
from pathlib import Path

from shared.clock import now_iso

LOG_FILE = "worker.jsonl"
_BEARER = re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+")
_MARK = "_mlc_handler"


class Scrubber:
    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self.secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)

    def add(self, secret: str) -> None:
        if secret and len(secret) >= 4 and secret not in self.secrets:
            self.secrets = sorted([*self.secrets, secret], key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return _BEARER.sub(r"\1***", text)


class JsonFormatter(logging.Formatter):
    def __init__(self, scrub: Scrubber) -> None:
        super().__init__()
        self.scrub = scrub

    def format(self, record: logging.LogRecord) -> str:
        entry = {"at": now_iso(), "level": record.levelname.lower(), "logger": record.name, "message": record.getMessage()}
        for key in ("company", "document_id", "ticket_id", "event_id"):
            if hasattr(record, key):
                entry[key] = getattr(record, key)
        if record.exc_info:
            entry["traceback"] = self.formatException(record.exc_info)
        return self.scrub(json.dumps(entry, ensure_ascii=False, default=str))


class TextFormatter(logging.Formatter):
    def __init__(self, scrub: Scrubber) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S")
        self.scrub = scrub

    def format(self, record: logging.LogRecord) -> str:
        return self.scrub(super().format(record))


def setup_logging(data_dir: Path, level: str = "info", secrets: Iterable[str] = (), stderr: bool = True) -> Scrubber:
    """Install the handlers on the root logger (again on each call: tests start many workers)."""
    scrub = Scrubber(secrets)
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, _MARK, False)]:
        root.removeHandler(handler)
        handler.close()
    log_dir = data_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    file_handler = logging.handlers.RotatingFileHandler(log_dir / LOG_FILE, maxBytes=20_000_000, backupCount=5, encoding="utf-8")
    file_handler.setFormatter(JsonFormatter(scrub))
    handlers: list[logging.Handler] = [file_handler]
    if stderr:
        stream = logging.StreamHandler(sys.stderr)
        stream.setFormatter(TextFormatter(scrub))
        handlers.append(stream)
    for handler in handlers:
        setattr(handler, _MARK, True)
        root.addHandler(handler)
    root.setLevel(getattr(logging, level.upper(), logging.INFO))
    # Hypercorn's access log would print every QBWC poll; keep it at warning.
    logging.getLogger("hypercorn.access").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    return scrub


def teardown_logging() -> None:
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, _MARK, False)]:
        root.removeHandler(handler)
        handler.close()
