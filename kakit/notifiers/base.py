"""The contract of the notifier family (alert channels).

A channel type is one class, ``<Thing>Notifier(Notifier)``, in its own module, with a frozen
options class whose fields carry converters (like checks). ``send`` is a coroutine: the delivery
worker runs channels concurrently in a TaskGroup, each under its own deadline. A notifier
*raises* on failure and says whether a retry can help; the worker decides when to retry.

Secrets (tokens, passwords, signing keys) arrive already resolved from ``*_file``/``{file:}``/
``{env:}`` references and must never be logged: error messages name the channel and the
platform's answer, never the URL with its token.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from kakit.core.record import frozen
from kakit.exceptions import DeliveryError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, ClassVar

    import httpx

    from kakit.alerts.alert import Alert


@frozen
class Message:
    """One alert, rendered for people, plus its structured fields.

    Attributes:
        title: One line (mail subject, IM preview).
        text: Plain text body.
        markdown: Markdown body (DingTalk/WeCom/Slack subset safe: headings, bold, lists, quotes).
        alert: What the message says, as data (JSON channels, Alertmanager labels, templates).
        language: ``en`` or ``zh``.
    """

    title: str
    text: str
    markdown: str
    alert: Alert
    language: str = "en"


class RetryableError(DeliveryError):
    """The channel failed in a way a later attempt may fix (timeout, 5xx, rate limit).

    Attributes:
        retry_after: Seconds the platform asked us to wait, if it said.
    """

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentError(DeliveryError):
    """The channel refused in a way retrying cannot fix (bad token, signature, recipient)."""


class Notifier(ABC):
    """Base class of every channel type.

    Args:
        name: The channel's name in the configuration (``ops-ding``).
        options: The validated options object (``options_class``).
    """

    type_name: ClassVar[str]
    options_class: ClassVar[type[Any]]
    #: Client-side rate limit: at most ``rate_limit[0]`` sends per ``rate_limit[1]`` seconds.
    rate_limit: ClassVar[tuple[int, float] | None] = None

    def __init__(self, name: str, options: Any) -> None:
        self.name = name
        self.options = options

    @abstractmethod
    async def send(self, message: Message, client: httpx.AsyncClient) -> str:
        """Deliver ``message``; returns the platform's answer in a few words (for the log).

        Raises:
            RetryableError: Try again later (optionally after ``retry_after`` seconds).
            PermanentError: Do not try again; the configuration must change.
        """
