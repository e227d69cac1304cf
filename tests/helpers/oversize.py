"""POST an oversize body over a raw socket while reading the answer.

httpx writes the whole body before it reads, so a server that answers 413 early would look like a
write timeout; this sends and reads at once. ``chunked`` leaves the server no Content-Length to
refuse up front."""

from __future__ import annotations

from urllib.parse import urlsplit

import trio

PIECE = 0x10000


async def oversize_post(url: str, total: int, chunked: bool, content_type: str = "text/xml; charset=utf-8", timeout: float = 30) -> bytes:
    """The answer as received (status line, headers, body), or b"" when the connection ended without one."""
    parts = urlsplit(url)
    pieces = total // PIECE + 1
    framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {pieces * PIECE}"
    head = f"POST {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\nContent-Type: {content_type}\r\n{framing}\r\n\r\n".encode()
    chunk = (b"10000\r\n" + b"<" * PIECE + b"\r\n") if chunked else b"<" * PIECE
    answer = bytearray()
    stream = await trio.open_tcp_stream(parts.hostname, parts.port)
    async with stream, trio.open_nursery() as nursery:

        async def send() -> None:
            try:
                await stream.send_all(head)
                for _ in range(pieces):
                    await stream.send_all(chunk)
                if chunked:
                    await stream.send_all(b"0\r\n\r\n")
            except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
                pass  # the server stopped reading: its answer is what counts

        async def receive() -> None:
            with trio.move_on_after(timeout):
                while not _complete(answer):
                    data = await stream.receive_some(65536)
                    if not data:
                        break
                    answer.extend(data)
            nursery.cancel_scope.cancel()

        nursery.start_soon(send)
        nursery.start_soon(receive)
    return bytes(answer)


def _complete(answer: bytearray) -> bool:
    """The head and as much body as its Content-Length says have arrived."""
    end = answer.find(b"\r\n\r\n")
    if end < 0:
        return False
    for line in bytes(answer[:end]).split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(answer) - end - 4 >= int(value.strip())
    return False


def status_line(answer: bytes) -> str:
    return answer.split(b"\r\n", 1)[0].decode("latin-1") or "connection closed without an answer"
