"""Servers on 127.0.0.1 whose answer never ends, counting what they manage to write.

A channel must read only what it needs of an answer. These servers write a huge body (HTTP) or
an endless multi-line reply (SMTP) until the client goes away, and count the bytes the kernel
accepted from them: the client's reading is bounded when that count stays far below what was
offered. The server's send buffer is kept small, so the count is close to what the client and
its kernel took.
"""

from __future__ import annotations

import socket
import threading
from typing import Self

#: What an endless server offers at most (the loop also stops when the client closes).
OFFERED = 1 << 30
#: The server's send buffer; the kernel may double it.
SEND_BUFFER = 64 * 1024

HTTP_HEAD = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
    + f"Content-Length: {OFFERED}\r\n\r\n".encode()
)
CHUNKED_HEAD = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
)


class EndlessServer:
    """Answers each connection with ``head`` and then ``chunk`` after ``chunk``.

    Args:
        head: Written first (the status line and headers, or an SMTP greeting's first line).
        chunk: Written again and again after it, up to :data:`OFFERED` bytes.
        read_request: Read an HTTP request (headers and ``Content-Length`` body) first.
    """

    def __init__(self, head: bytes, chunk: bytes, *, read_request: bool = True) -> None:
        self.head = head
        self.chunk = chunk
        self.read_request = read_request
        #: Bytes written by every connection that has ended.
        self.written = 0
        #: Set when a connection has ended (the client closed it, or OFFERED was reached).
        self.finished = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def port(self) -> int:
        """The port it listens on."""
        return int(self._listener.getsockname()[1])

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._listener.close()
        self._thread.join(5)

    def _serve(self) -> None:
        try:
            connection, _ = self._listener.accept()
        except OSError:  # closed before anyone connected
            return
        with connection:
            connection.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)
            written = 0
            try:
                if self.read_request:
                    self._skip_request(connection)
                connection.sendall(self.head)
                written = len(self.head)
                while written < OFFERED:
                    connection.sendall(self.chunk)
                    written += len(self.chunk)
            except OSError:  # the client went away: what we are here to see
                pass
            self.written += written
            self.finished.set()

    @staticmethod
    def _skip_request(connection: socket.socket) -> None:
        data = b""
        while b"\r\n\r\n" not in data:
            more = connection.recv(65536)
            if not more:
                return
            data += more
        head, _, body = data.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        while len(body) < length:
            more = connection.recv(65536)
            if not more:
                return
            body += more


def endless_http(chunked: bool = False) -> EndlessServer:
    """An HTTP server whose 200 answer is 1 GiB long (``Content-Length``) or never ends."""
    if chunked:
        piece = b"x" * 65536
        return EndlessServer(CHUNKED_HEAD, b"10000\r\n" + piece + b"\r\n")
    return EndlessServer(HTTP_HEAD, b"x" * 65536)


def endless_smtp() -> EndlessServer:
    """An SMTP server whose greeting is an endless multi-line ``220-`` reply."""
    return EndlessServer(b"220-kakit test\r\n", b"220-" + b"x" * 1000 + b"\r\n", read_request=False)
