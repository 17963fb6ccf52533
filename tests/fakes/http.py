"""A scriptable HTTP server on 127.0.0.1 (stdlib, in a daemon thread) for the fakes.

Subclasses implement :meth:`FakeServer.handle`; the base class records every request, serves
scripted answers first (``fail_next``, ``hang_next``, ``answer_next``) and can speak TLS.
"""

from __future__ import annotations

import json
import ssl
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qsl, urlsplit

from tests.fakes.tls import TlsFiles


@dataclass
class Request:
    """One request as the server saw it.

    Attributes:
        method: ``POST``...
        path: The path without the query.
        raw_query: The query string exactly as sent (to see how it was encoded).
        query: The query decoded once, one value per name.
        headers: Header names in lower case.
        body: The raw body.
        time: ``time.time()`` when it arrived.
    """

    method: str
    path: str
    raw_query: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    time: float = field(default_factory=time.time)

    @property
    def json(self) -> Any:
        """The body parsed as JSON (None when it is not JSON)."""
        try:
            return json.loads(self.body)
        except ValueError:
            return None


@dataclass
class Answer:
    """What to answer.

    Attributes:
        status: HTTP status.
        body: Body bytes.
        headers: Extra headers.
        delay: Seconds to wait before answering (a hanging server).
    """

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0

    @classmethod
    def json(cls, payload: Any, status: int = 200, **headers: str) -> Answer:
        """An answer with a JSON body."""
        body = json.dumps(payload, ensure_ascii=False).encode()
        return cls(status, body, {"Content-Type": "application/json", **headers})

    @classmethod
    def text(cls, text: str, status: int = 200, **headers: str) -> Answer:
        """An answer with a plain-text body."""
        return cls(status, text.encode(), {"Content-Type": "text/plain; charset=utf-8", **headers})


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeServer

    def finish_request(self, request: Any, client_address: Any) -> None:
        # The TLS handshake runs in the request's thread, so one failing client (a client
        # refusing our certificate) neither blocks nor crashes the accept loop.
        context = self.fake.tls_context
        if context is None:
            super().finish_request(request, client_address)
            return
        try:
            wrapped = context.wrap_socket(request, server_side=True)
        except OSError:  # ssl.SSLError included: the client refused the certificate
            return
        # wrap_socket detaches the plain socket that shutdown_request() will close, so the
        # TLS socket must be closed here.
        with wrapped:
            super().finish_request(wrapped, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (timeout) leaves a broken pipe behind: not a test failure.
        pass


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        request = Request(
            method=self.command,
            path=parts.path,
            raw_query=parts.query,
            query=dict(parse_qsl(parts.query, keep_blank_values=True)),
            headers={key.lower(): value for key, value in self.headers.items()},
            body=body,
        )
        fake = self.server.fake
        delay, answer = fake.dispatch(request)
        if delay and fake.stopping.wait(delay):
            return
        if answer is None:
            answer = fake.handle(request)
        try:
            self.send_response(answer.status)
            for key, value in answer.headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            self.wfile.write(answer.body)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            pass

    do_GET = do_POST = do_PUT = do_DELETE = _serve


class FakeServer:
    """An HTTP(S) server on 127.0.0.1 with a random port.

    Args:
        tls: Serve HTTPS with this certificate.
    """

    def __init__(self, tls: TlsFiles | None = None) -> None:
        self.tls_context = tls.server_context() if tls is not None else None
        self.requests: list[Request] = []
        self.stopping = threading.Event()
        self._script: deque[Answer | tuple[float, None]] = deque()
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # --- life cycle --------------------------------------------------------------------------

    def start(self) -> Self:
        """Listen on 127.0.0.1:0 and serve in a daemon thread."""
        server = _Server(("127.0.0.1", 0), _Handler)
        server.fake = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving (hanging answers are cut short) and close the socket."""
        self.stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The port it listens on."""
        assert self._server is not None, "start() the server first"
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (``https`` with TLS)."""
        scheme = "https" if self.tls_context is not None else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    # --- scripting ---------------------------------------------------------------------------

    def answer_next(self, *answers: Answer) -> None:
        """Answer the next requests with these, in order, before the normal behaviour."""
        with self._lock:
            self._script.extend(answers)

    def fail_next(
        self, count: int = 1, status: int = 500, body: bytes = b"", **headers: str
    ) -> None:
        """Answer the next ``count`` requests with ``status``."""
        self.answer_next(*(Answer(status, body, dict(headers)) for _ in range(count)))

    def hang_next(self, count: int = 1, seconds: float = 5.0) -> None:
        """Sleep ``seconds`` before handling each of the next ``count`` requests."""
        with self._lock:
            self._script.extend((seconds, None) for _ in range(count))

    def dispatch(self, request: Request) -> tuple[float, Answer | None]:
        """Record ``request``; the delay before answering and the scripted answer, if any.

        Without a scripted answer, :meth:`handle` decides *after* the delay, so a request the
        client gave up on is not counted as accepted before it was answered.
        """
        with self._lock:
            self.requests.append(request)
            scripted = self._script.popleft() if self._script else None
        if isinstance(scripted, Answer):
            return scripted.delay, scripted
        if isinstance(scripted, tuple):
            return scripted[0], None
        return 0.0, None

    def handle(self, request: Request) -> Answer:
        """The normal answer (subclasses); the base answers ``200 ok``."""
        return Answer.text("ok")
