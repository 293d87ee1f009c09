"""One socket write per answer: uvicorn's HTTP protocol over a corked transport.

uvicorn writes a response's status line and headers when the application sends
``http.response.start``, and its body on ``http.response.body``: two ``send`` calls on
the socket, and two wake-ups of the client, which reads the headers and waits again
for the body. :class:`CorkedTransport` holds what is written and writes it out together
when the response is complete (:class:`CorkedHttpToolsProtocol`), before the connection
closes, or at the latest right after the loop step that wrote it (a streamed body's
chunks, a ``100 Continue``), so a decision goes out in one segment with no added wait.
Everything else passes straight to the socket's transport.

>>> import asyncio
>>> class Socket(asyncio.Transport):
...     def __init__(self) -> None:
...         super().__init__()
...         self.sent: list[bytes] = []
...     def write(self, data: bytes | bytearray | memoryview) -> None:
...         self.sent.append(bytes(data))
...     def is_closing(self) -> bool:
...         return False
>>> async def answer(socket: Socket) -> None:
...     corked = CorkedTransport(socket, asyncio.get_running_loop())
...     corked.write(b"HTTP/1.1 200 OK\\r\\n\\r\\n")
...     corked.write(b"{}")
...     await asyncio.sleep(0)
>>> socket = Socket()
>>> asyncio.run(answer(socket))
>>> socket.sent
[b'HTTP/1.1 200 OK\\r\\n\\r\\n{}']
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class CorkedTransport(asyncio.Transport):
    """``transport``, with the writes of one loop step joined into one."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes | bytearray | memoryview] = []

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not data:
            return
        if not self._pending:
            self._loop.call_soon(self.flush)
        self._pending.append(data)

    def writelines(self, list_of_data: Any) -> None:
        for data in list_of_data:
            self.write(data)

    def flush(self) -> None:
        """Write out what is held (the protocol calls it when a response is complete)."""
        pending, self._pending = self._pending, []
        if not pending or self._transport.is_closing():
            return
        self._transport.write(pending[0] if len(pending) == 1 else b"".join(pending))

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def abort(self) -> None:
        self._pending = []
        self._transport.abort()

    def can_write_eof(self) -> bool:
        return self._transport.can_write_eof()

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._transport.get_extra_info(name, default)

    def pause_reading(self) -> None:
        self._transport.pause_reading()

    def resume_reading(self) -> None:
        self._transport.resume_reading()

    def is_reading(self) -> bool:
        return self._transport.is_reading()

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        self._transport.set_write_buffer_limits(high, low)

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + sum(len(d) for d in self._pending)

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return self._transport.get_write_buffer_limits()

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._transport.set_protocol(protocol)

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._transport.get_protocol()


class CorkedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol writing through a :class:`CorkedTransport`.

    Given to uvicorn as its ``http`` implementation (``uvicorn.run(..., http=...)``).
    """

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(CorkedTransport(transport, self.loop))

    def on_response_complete(self) -> None:
        if isinstance(self.transport, CorkedTransport):
            self.transport.flush()
        super().on_response_complete()
