"""Read a bounded number of Server-Sent Events from a response (tests keep streams finite)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass
class Event:
    event: str
    data: str
    id: str | None

    def json(self) -> Any:
        return json.loads(self.data)


class EventReader:
    """Reads events from one streamed response, a few at a time (one line iterator throughout)."""

    def __init__(self, response: httpx.Response) -> None:
        self._lines = response.aiter_lines()
        self.comments: list[str] = []

    async def read(self, count: int | None = None) -> list[Event]:
        """Events until ``count`` were read or the server ends the stream."""
        events: list[Event] = []
        name, data, event_id = "message", [], None
        async for line in self._lines:
            if line == "":
                if data:
                    events.append(Event(name, "\n".join(data), event_id))
                    if count is not None and len(events) >= count:
                        return events
                name, data, event_id = "message", [], None
            elif line.startswith(":"):
                self.comments.append(line[1:].strip())
            else:
                field, _, value = line.partition(":")
                value = value[1:] if value.startswith(" ") else value
                if field == "data":
                    data.append(value)
                elif field == "event":
                    name = value
                elif field == "id":
                    event_id = value
        return events


async def read_events(response: httpx.Response, count: int | None = None, comments: list[str] | None = None) -> list[Event]:
    reader = EventReader(response)
    events = await reader.read(count)
    if comments is not None:
        comments += reader.comments
    return events
