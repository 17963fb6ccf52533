"""aiosmtpd servers on 127.0.0.1: plain, STARTTLS (required) or implicit TLS; AUTH; refusals.

aiosmtpd's ``Controller`` cannot listen on port 0 (its readiness probe connects to the port it
was given), so a free port is picked first (docs/channels.md, email).
"""

from __future__ import annotations

import email
import email.policy
import socket
import threading
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any, Literal, Self

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.fakes.tls import TlsFiles

Mode = Literal["plain", "starttls", "tls"]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ReceivedMail:
    """One accepted mail.

    Attributes:
        mail_from: Envelope sender.
        rcpt_tos: Envelope recipients that were accepted.
        message: The parsed message.
        login: The authenticated user, if any.
        tls: Whether the session was encrypted.
    """

    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    login: str | None
    tls: bool


class Recorder:
    """aiosmtpd handler: refuses some recipients, records what it accepts."""

    def __init__(self, refuse: frozenset[str]) -> None:
        self.refuse = refuse
        self.mails: list[ReceivedMail] = []
        self.lock = threading.Lock()

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        """Refuse addresses in ``refuse`` with 550, accept the rest."""
        if address in self.refuse:
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        """Record the mail."""
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        auth = session.auth_data
        login = auth.login.decode() if isinstance(auth, LoginPassword) else None
        mail = ReceivedMail(
            mail_from=envelope.mail_from,
            rcpt_tos=list(envelope.rcpt_tos),
            message=message,
            login=login,
            tls=server.transport.get_extra_info("ssl_object") is not None,
        )
        with self.lock:
            self.mails.append(mail)
        return "250 Message accepted for delivery"


class FakeSmtp:
    """An SMTP server for one test.

    Args:
        mode: ``plain``, ``starttls`` (STARTTLS offered and required before MAIL) or ``tls``
            (implicit TLS).
        tls: Certificate for ``starttls``/``tls``.
        users: ``{user: password}``: offer AUTH (on a plain server too).
        refuse: Recipient addresses answered with 550.
    """

    def __init__(
        self,
        mode: Mode = "plain",
        *,
        tls: TlsFiles | None = None,
        users: dict[str, str] | None = None,
        refuse: tuple[str, ...] = (),
    ) -> None:
        if mode != "plain" and tls is None:
            raise ValueError(f"mode {mode} needs a certificate")
        self.mode = mode
        self.users = dict(users or {})
        self.handler = Recorder(frozenset(refuse))
        self.port = free_port()
        kwargs: dict[str, Any] = {}
        if self.users:
            kwargs["authenticator"] = self._authenticate
            # Over implicit TLS the session is encrypted already; plain servers offer AUTH
            # in the clear on purpose (tests only).
            kwargs["auth_require_tls"] = mode == "starttls"
        if mode == "starttls":
            assert tls is not None
            kwargs.update(tls_context=tls.server_context(), require_starttls=True)
        elif mode == "tls":
            assert tls is not None
            kwargs["ssl_context"] = tls.server_context()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port, **kwargs)

    def _authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if isinstance(auth_data, LoginPassword):
            user, password = auth_data.login.decode(), auth_data.password.decode()
            if self.users.get(user) == password:
                return AuthResult(success=True, auth_data=auth_data)
        # handled=False makes aiosmtpd answer 535; the default (True) sends nothing and the
        # client hangs until its read timeout.
        return AuthResult(success=False, handled=False)

    @property
    def host(self) -> str:
        """``127.0.0.1``."""
        return "127.0.0.1"

    @property
    def mails(self) -> list[ReceivedMail]:
        """Accepted mails, in order."""
        with self.handler.lock:
            return list(self.handler.mails)

    def start(self) -> Self:
        """Start serving in aiosmtpd's thread."""
        self.controller.start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        self.controller.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class SilentServer:
    """A TCP listener that accepts connections and never says a word (no SMTP greeting)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = int(self.sock.getsockname()[1])

    def close(self) -> None:
        """Stop listening."""
        self.sock.close()
