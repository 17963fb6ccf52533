"""The contract of the notifier family (alert channels).

A channel type is one class, ``<Thing>Notifier(Notifier)``, in its own module, with a frozen
options class derived from :class:`NotifierOptions` whose fields carry converters (like checks).
``send`` is a coroutine: the delivery worker runs channels concurrently in a TaskGroup, each
under its own deadline (the channel's :attr:`Notifier.timeout` plus a margin). A notifier
*raises* on failure and says whether a retry can help (:class:`RetryableError`,
:class:`PermanentError`); the worker decides when to retry.

The HTTP channels derive from :class:`kakit.notifiers.http.HttpNotifier`, which owns the
request, its errors and the client; ``email`` derives from :class:`Notifier` directly.

Secrets (tokens, passwords, signing keys, header values, user info in URLs) arrive already
resolved from ``*_file``/``{file:}``/``{env:}`` references and must never be logged: a send
reveals them through an :class:`Attempt`, which redacts every revealed value, in every form a
server may echo it (:func:`kakit.notifiers.common.secret_forms`), from the errors it builds and
from the answer the send returns. Both are kept: the log, and the outbox's ``last_error`` and
``answer`` columns that ``kakit outbox list`` shows.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from kakit.core.converters import duration
from kakit.core.record import Member, frozen, option
from kakit.exceptions import ConfigError, NotifierTimeout, PermanentError, RetryableError
from kakit.notifiers.common import redact, snippet

# The delivery errors live in kakit.exceptions; channels and their callers import them from here
# too, beside the contract that raises them.
__all__ = [
    "DEFAULT_TIMEOUT",
    "Attempt",
    "Message",
    "Notifier",
    "NotifierOptions",
    "NotifierTimeout",
    "PermanentError",
    "RetryableError",
]

TYPE_CHECKING = False
if TYPE_CHECKING:
    import ssl
    from collections.abc import Mapping
    from typing import Any, ClassVar, TypeVar, final

    import httpx

    from kakit.alerts.alert import Alert
    from kakit.core.secrets import Secret

    #: A channel's options record, open in the bases (``HttpNotifier(Notifier[OptionsT])``).
    OptionsT = TypeVar("OptionsT", bound="NotifierOptions")
else:
    from kakit.core.record import OptionsT

    def final(func: object) -> object:
        # typing.final only informs the type checker; importing typing costs start-up time.
        return func


#: Seconds a channel may take for one send unless its options say otherwise.
DEFAULT_TIMEOUT = 5.0


@frozen
class Message:
    """One alert, rendered for people, plus its structured fields.

    Attributes:
        title: One line (mail subject, IM preview).
        text: Plain text body.
        markdown: Markdown body (DingTalk/WeCom/Slack subset safe: headings, bold, lists, quotes).
        alert: What the message says, as data (JSON channels, Alertmanager labels, templates).
        language: ``en`` or ``zh``.
        key: The message's identity, the same for every re-send of it (``kakit-lb1-42-...``,
            see :func:`kakit.alerts.messages.message_key`); a channel that can deduplicate
            sends it (webhook ``Idempotency-Key``, email ``Message-ID``). Empty for a message
            that is not in the outbox (``kanotify test``, a direct send).
    """

    title: str
    text: str
    markdown: str
    alert: Alert
    language: str = "en"
    key: str = ""


@frozen
class NotifierOptions:
    """Settings every channel type has; each options class derives from this one.

    Attributes:
        timeout: Seconds one send may take (one HTTP request, or a whole SMTP conversation).
    """

    timeout: float = option(duration(high=60.0), default=DEFAULT_TIMEOUT)


class Notifier(Member[OptionsT], ABC):
    """Base class of every channel type.

    Args:
        name: The channel's name in the configuration (``ops-ding``).
        options: The validated options (the record named in the class's base,
            ``class SlackNotifier(HttpNotifier[SlackOptions])``).
    """

    type_name: ClassVar[str]
    #: Client-side rate limit: at most ``rate_limit[0]`` sends per ``rate_limit[1]`` seconds.
    rate_limit: ClassVar[tuple[int, float] | None] = None

    def __init__(self, name: str, options: OptionsT) -> None:
        self.name = name
        self.options = options

    @final
    @property
    def label(self) -> str:
        """How messages name the channel: ``dingtalk channel 'ops-ding'``."""
        return f"{self.type_name} channel {self.name!r}"

    @final
    @property
    def timeout(self) -> float:
        """Seconds one send may take: the ``timeout`` option (default :data:`DEFAULT_TIMEOUT`)."""
        return self.options.timeout

    @final
    def reveal(self, secret: Secret) -> str:
        """The secret's value; an unreadable secret file is a permanent failure of the channel.

        Raises:
            PermanentError: The file or variable is missing or empty (the message names the
                reference, never a value).
        """
        try:
            return secret.reveal()
        except ConfigError as exc:
            raise PermanentError(f"{self.label}: {exc}") from exc

    @final
    def trust(self, ca_file: str) -> ssl.SSLContext:
        """A TLS context verifying servers against the CA bundle ``ca_file`` (a private CA).

        Raises:
            PermanentError: The file cannot be read or holds no certificate.
        """
        import ssl

        try:
            return ssl.create_default_context(cafile=ca_file)
        except OSError as exc:
            raise PermanentError(
                f"{self.label}: cannot read ca_file {ca_file}: {exc.strerror or exc}"
            ) from exc

    @abstractmethod
    async def send(self, message: Message, client: httpx.AsyncClient) -> str:
        """Deliver ``message``; returns the platform's answer in a few words (for the log).

        Args:
            message: The alert.
            client: The worker's shared HTTP client (the seam tests replace); channels that do
                not speak HTTP ignore it.

        Raises:
            RetryableError: Try again later (optionally after ``retry_after`` seconds);
                NotifierTimeout when the channel did not answer within :attr:`timeout`.
            PermanentError: Do not try again; the configuration must change.
        """


class Attempt:
    """One send: the channel's label and the secret values revealed for it.

    Every error built here names the channel and has every revealed value replaced by ``***``
    (in every form :func:`~kakit.notifiers.common.secret_forms` knows), and so has the answer a
    send returns (:meth:`redact`): a token echoed by a platform or a library reaches neither
    the log nor the outbox. Text from outside is also cut to one line by :meth:`quote`.

    Args:
        notifier: The channel sending.
    """

    __slots__ = ("label", "notifier", "secrets")

    def __init__(self, notifier: Notifier[Any]) -> None:
        self.notifier = notifier
        self.label = notifier.label
        self.secrets: list[str] = []

    def reveal(self, secret: Secret) -> str:
        """The secret's value, remembered for redaction.

        Raises:
            PermanentError: The secret cannot be read.
        """
        value = self.notifier.reveal(secret)
        self.secrets.append(value)
        return value

    def hide(self, *values: str) -> None:
        """Redact these values too (parts of a URL that may be credentials)."""
        self.secrets.extend(values)

    def headers(self, configured: Mapping[str, Secret]) -> dict[str, str]:
        """Configured headers with their values revealed; every one counts as a secret.

        Raises:
            PermanentError: A secret cannot be read.
        """
        return {key: self.reveal(value) for key, value in configured.items()}

    def redact(self, text: str) -> str:
        """``text`` with every revealed value replaced by ``***``."""
        return redact(text, self.secrets)

    def quote(self, text: str) -> str:
        """Text from outside (a platform's answer, a library's error) fit for a message: one
        line, at most :data:`~kakit.notifiers.common.SNIPPET_CHARS` long, secrets redacted."""
        return snippet(redact(text, self.secrets))

    def retryable(self, text: str, retry_after: float | None = None) -> RetryableError:
        """``RetryableError("<label>: <text>")``, secrets redacted."""
        return RetryableError(f"{self.label}: {self.redact(text)}", retry_after)

    def timed_out(self, text: str) -> NotifierTimeout:
        """``NotifierTimeout("<label>: <text>")``, secrets redacted."""
        return NotifierTimeout(f"{self.label}: {self.redact(text)}")

    def permanent(self, text: str) -> PermanentError:
        """``PermanentError("<label>: <text>")``, secrets redacted."""
        return PermanentError(f"{self.label}: {self.redact(text)}")
