"""``email``: one plain-text mail through an SMTP server (aiosmtplib): plain, STARTTLS or TLS.

keepalived's own ``smtp_alert`` speaks plain SMTP without TLS or AUTH and tries once; this
channel does STARTTLS (``starttls: true``, port 587), implicit TLS (``tls: true``, port 465) and
AUTH, under one deadline for the whole conversation (aiosmtplib's ``timeout`` applies to each
step only, docs/architecture.md, "Alert platforms").

A server that refuses some recipients but accepts others has delivered the mail: that is a
success whose answer names the refused addresses. When every recipient is refused, nothing was
delivered.
"""

from __future__ import annotations

from kakit.core.converters import (
    absolute_path,
    boolean,
    duration,
    host,
    optional,
    optional_string,
    port,
)
from kakit.core.record import frozen, option
from kakit.core.secrets import either, optional_secret, secret_file
from kakit.notifiers.base import Attempt, Notifier, NotifierOptions

TYPE_CHECKING = False
if TYPE_CHECKING:
    from email.message import EmailMessage

    import httpx
    from aiosmtplib import SMTPException

    from kakit.core.converters import Node
    from kakit.core.secrets import Secret
    from kakit.exceptions import DeliveryError
    from kakit.notifiers.base import Message


def address(node: Node) -> str:
    """Converter: a mail address, bare or with a display name (``kakit <kakit@example.com>``)."""
    value = node.value
    if isinstance(value, str):
        text = value.strip()
        bare = bare_address(text)
        local, at, domain = bare.rpartition("@")
        if at and local and "." in domain and not any(ch.isspace() for ch in bare):
            return text
    raise node.error("a mail address such as oncall@example.com")


def addresses(node: Node) -> tuple[str, ...]:
    """Converter: a non-empty list of mail addresses (one address may be given alone)."""
    if isinstance(node.value, str):
        return (address(node),)
    if not isinstance(node.value, list) or not node.value:
        raise node.error("a non-empty list of mail addresses")
    return tuple(address(item) for item in node.value)


def bare_address(text: str) -> str:
    """``kakit@example.com`` from ``kakit <kakit@example.com>``."""
    return text[text.rfind("<") + 1 : -1] if text.endswith(">") and "<" in text else text


@frozen
class EmailOptions(NotifierOptions):
    """Settings of an email channel.

    Attributes:
        host: The SMTP server.
        port: Its port (default 25; 587 with ``starttls``; 465 with ``tls``).
        starttls: Upgrade the connection with STARTTLS and fail if the server cannot (false:
            never upgrade, not even when the server offers it).
        tls: Implicit TLS from the first byte (SMTPS).
        username: AUTH user name.
        password: AUTH password (a secret).
        password_file: The same, read from a file.
        from: The sender address (``From:`` and envelope).
        to: The recipients.
        timeout: Seconds for the whole conversation.
        ca_file: A CA bundle to verify the server's certificate with (a private CA).
        validate_certs: Verify the server's certificate.
    """

    host: str = option(host)
    to: tuple[str, ...] = option(addresses)
    port: int | None = option(optional(port), default=None)
    starttls: bool = option(boolean, default=False)
    tls: bool = option(boolean, default=False)
    username: str | None = option(optional_string, default=None)
    password: Secret | None = option(optional_secret, default=None, secret=True)
    password_file: Secret | None = option(secret_file, default=None, secret=True)
    timeout: float = option(duration(high=300.0), default=10.0)
    ca_file: str | None = option(optional(absolute_path), default=None)
    validate_certs: bool = option(boolean, default=True)
    # ``from`` is a Python keyword but the natural YAML key, so the field is declared through
    # the class namespace; code reads it through ``sender``.
    locals()["__annotations__"]["from"] = "str"
    locals()["from"] = option(address)

    def __post_init__(self) -> None:
        if self.starttls and self.tls:
            raise ValueError("starttls or tls, not both (tls is implicit TLS, port 465)")
        secret = either(self.password, self.password_file, "password")
        if (secret is None) != (self.username is None):
            raise ValueError("username together with password or password_file")

    @property
    def sender(self) -> str:
        """The ``from`` address."""
        return str(getattr(self, "from"))

    @property
    def effective_port(self) -> int:
        """The configured port or the default for the TLS mode."""
        if self.port is not None:
            return self.port
        return 465 if self.tls else 587 if self.starttls else 25

    def password_ref(self) -> Secret | None:
        """The password, from ``password`` or ``password_file``."""
        return either(self.password, self.password_file, "password")


def translate(attempt: Attempt, where: str, exc: SMTPException) -> DeliveryError:
    """The kakit error for an aiosmtplib error (docs/architecture.md, "Alert platforms"), secrets redacted.

    Retried: connection failures, timeouts, disconnects and 4xx answers (temporary by SMTP's
    own definition). Not retried: 5xx answers (including refused AUTH), and extensions the
    server does not offer (STARTTLS, AUTH): the configuration must change.
    """
    import aiosmtplib

    if isinstance(exc, aiosmtplib.SMTPTimeoutError):
        return attempt.timed_out(f"{where} did not answer in time: {attempt.quote(str(exc))}")
    if isinstance(exc, aiosmtplib.SMTPConnectError | aiosmtplib.SMTPServerDisconnected):
        return attempt.retryable(f"cannot talk to {where}: {attempt.quote(str(exc))}")
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        codes = [r.code for r in exc.recipients]
        refused = "; ".join(
            f"{r.recipient} ({r.code} {attempt.quote(r.message)})" for r in exc.recipients
        )
        text = f"{where} refused every recipient: {refused}"
    elif isinstance(exc, aiosmtplib.SMTPResponseException):
        codes = [exc.code]
        login = isinstance(exc, aiosmtplib.SMTPAuthenticationError)
        step = "refused the login" if login else "answered"
        text = f"{where} {step}: {exc.code} {attempt.quote(exc.message)}"
    else:
        codes, text = [], f"{where}: {attempt.quote(str(exc))}"
    if codes and all(400 <= code < 500 for code in codes):
        return attempt.retryable(text)
    return attempt.permanent(text)


class EmailNotifier(Notifier[EmailOptions]):
    """Mails the message's title and text to the recipients."""

    type_name = "email"

    def mail(self, message: Message) -> EmailMessage:
        """The ``EmailMessage``: subject = title, plain-text body = text, Date, Message-ID
        (from the message's key when it has one)."""
        from email.message import EmailMessage
        from email.utils import formatdate, make_msgid

        opts = self.options
        mail = EmailMessage()
        mail["From"] = opts.sender
        mail["To"] = ", ".join(opts.to)
        mail["Subject"] = message.title
        mail["Date"] = formatdate(localtime=True)
        # An explicit domain: make_msgid() would otherwise resolve this host's FQDN.
        domain = bare_address(opts.sender).rpartition("@")[2]
        # The message's key makes every re-send of one alert the same mail, which mail stores
        # and clients that deduplicate by Message-ID show once.
        key = message.key
        mail["Message-ID"] = f"<{key}@{domain}>" if key else make_msgid("kakit", domain)
        mail.set_content(message.text)
        return mail

    async def send(self, message: Message, client: httpx.AsyncClient) -> str:
        """Send the mail (``client`` is not used).

        Raises:
            RetryableError: Connection refused, TLS failure, disconnect, 4xx answers;
                NotifierTimeout when the conversation took longer than ``timeout``.
            PermanentError: 5xx answers, refused login, every recipient refused, missing
                STARTTLS/AUTH support, unreadable password or CA file.
        """
        import asyncio

        import aiosmtplib

        opts = self.options
        attempt = Attempt(self)
        where = f"{opts.host}:{opts.effective_port}"
        password_ref = opts.password_ref()
        password = attempt.reveal(password_ref) if password_ref is not None else None
        tls_context = None
        if opts.ca_file is not None and opts.validate_certs:
            tls_context = self.trust(opts.ca_file)
        try:
            async with asyncio.timeout(opts.timeout):
                refused, answer = await aiosmtplib.send(
                    self.mail(message),
                    hostname=opts.host,
                    port=opts.effective_port,
                    username=opts.username,
                    password=password,
                    use_tls=opts.tls,
                    start_tls=opts.starttls,
                    validate_certs=opts.validate_certs,
                    tls_context=tls_context,
                    timeout=opts.timeout,
                )
        except aiosmtplib.SMTPException as exc:
            raise translate(attempt, where, exc) from exc
        except TimeoutError as exc:
            raise attempt.timed_out(f"{where} did not finish within {opts.timeout:g} s") from exc
        except OSError as exc:
            # TLS handshake and socket errors that aiosmtplib lets through.
            raise attempt.retryable(f"cannot talk to {where}: {attempt.quote(str(exc))}") from exc
        result = f"accepted by {where}: {attempt.quote(answer)}"
        if refused:
            names = "; ".join(
                f"{rcpt} ({response.code} {attempt.quote(response.message)})"
                for rcpt, response in refused.items()
            )
            result += f"; refused recipients: {names}"
        return attempt.redact(result)
