"""uvicorn's HTTP protocol (httptools), with a connection's writes joined: one send per answer.

uvicorn writes a response's head and its body with one `transport.write` each: two
syscalls and two TCP segments per webhook answer, each waking the sender's client. Here
the writes a connection makes during one turn of the event loop are held and sent with
one write at the end of that turn (the head and body of an answer are written in the same
turn). Nothing is reordered or dropped; closing the connection sends what is held first.
Sending at the end of the turn measured better than sending as soon as each response is
complete (about 4,670 against 4,000-4,160 deliveries/s, runs back to back), presumably
because the answers to a committed batch then leave after the loop has produced them all.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class _JoinedWrites:
    """A transport whose writes within one turn of the loop are sent together."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: list[bytes] = []

    def write(self, data: bytes) -> None:
        if not self._held:
            self._loop.call_soon(self.flush)
        self._held.append(data)

    def flush(self) -> None:
        """Send what is held, in one write."""
        if not self._held:
            return
        data = b"".join(self._held) if len(self._held) > 1 else self._held[0]
        self._held.clear()
        if not self._transport.is_closing():  # a lost connection: nobody to send to
            self._transport.write(data)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class JoinedWritesHttpToolsProtocol(HttpToolsProtocol):
    """HttpToolsProtocol whose writes within one turn of the loop leave in one send."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(_JoinedWrites(transport, self.loop))  # type: ignore[arg-type]
