"""One socket write per answer: the corked transport and uvicorn's protocol over it."""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.config import Config
from uvicorn.server import ServerState

from fengkong.api.corked import CorkedHttpToolsProtocol, CorkedTransport


class Socket(asyncio.Transport):
    """The socket's transport: records each write the kernel would get."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[bytes] = []
        self.closed = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        assert not self.closed, "written after close"
        self.sent.append(bytes(data))

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 50000), "sockname": ("127.0.0.1", 8000)}.get(
            name, default
        )

    def get_write_buffer_size(self) -> int:
        return 0


async def _app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    assert scope["type"] == "http"
    await receive()
    body = b'{"decision":"allow"}'
    headers = [(b"content-length", b"%d" % len(body)), (b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def test_writes_of_one_step_go_out_together_and_close_flushes_first() -> None:
    async def run() -> Socket:
        socket = Socket()
        corked = CorkedTransport(socket, asyncio.get_running_loop())
        corked.write(b"head ")
        corked.write(b"")
        corked.write(b"body")
        assert socket.sent == [] and corked.get_write_buffer_size() == 9
        await asyncio.sleep(0)  # the end of the step writes what it held
        corked.write(b"last")
        corked.close()
        await asyncio.sleep(0)  # the scheduled write finds nothing left
        return socket

    socket = asyncio.run(run())
    assert socket.sent == [b"head body", b"last"] and socket.closed


def test_uvicorn_answers_a_request_in_one_write() -> None:
    async def run() -> Socket:
        loop = asyncio.get_running_loop()
        config = Config(_app, lifespan="off", access_log=False)
        protocol = CorkedHttpToolsProtocol(config, ServerState(), {}, _loop=loop)
        socket = Socket()
        protocol.connection_made(socket)
        request = b"POST /v1/events HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\n\r\n{}"
        protocol.data_received(request)
        for _ in range(20):  # let the app's task run to its end
            await asyncio.sleep(0)
        return socket

    socket = asyncio.run(run())
    assert len(socket.sent) == 1
    head, _, body = socket.sent[0].partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK") and b"content-length: 20" in head
    assert body == b'{"decision":"allow"}'
