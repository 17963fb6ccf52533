"""The IM group robots (DingTalk, Feishu, WeCom): answers carrying a code, signed requests.

These platforms answer with a code in a JSON body, 0 for success: DingTalk and WeCom with HTTP
200 and ``errcode``/``errmsg`` for every outcome, Feishu with ``code``/``msg``, also on some
4xx answers. A channel states where its code is and what its codes mean, as a table of
:func:`retry_code` and :func:`refuse_code` rows; :class:`RobotNotifier` reads the answer.
DingTalk and Feishu sign their requests with a shared secret (:class:`SignedRobotOptions`).
"""

from __future__ import annotations

from kakit.core.converters import integer
from kakit.core.record import frozen, option
from kakit.core.secrets import either, optional_secret, secret_file
from kakit.notifiers.base import OptionsT
from kakit.notifiers.common import endpoint
from kakit.notifiers.http import (
    HttpNotifier,
    UrlOptions,
    json_answer,
    retry_after,
    retryable_status,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import ClassVar, final

    import httpx

    from kakit.core.secrets import Secret
    from kakit.exceptions import PermanentError, RetryableError
    from kakit.notifiers.base import Attempt
    from kakit.notifiers.http import HttpRequest
else:

    def final(func: object) -> object:
        # typing.final only informs the type checker; importing typing costs start-up time.
        return func


class Meaning:
    """What a platform's error code means: retryable or not, and a hint for the operator.

    Args:
        hint: Appended to the error (``check the signing secret and this host's clock``).
        retry: Whether a later attempt may succeed.
        after: Seconds the platform makes us wait (None: what ``Retry-After`` says, if any).
    """

    __slots__ = ("after", "hint", "retry")

    def __init__(self, hint: str, *, retry: bool, after: float | None = None) -> None:
        self.hint = hint
        self.retry = retry
        self.after = after


def retry_code(hint: str, after: float | None = None) -> Meaning:
    """A code meaning "try later" (after ``after`` seconds, or as ``Retry-After`` says)."""
    return Meaning(hint, retry=True, after=after)


def refuse_code(hint: str) -> Meaning:
    """A code meaning "this will not work until someone changes the configuration"."""
    return Meaning(hint, retry=False)


#: A code missing from a channel's table.
UNKNOWN_CODE = refuse_code("unexpected error code")
#: Any code that comes with HTTP 429 or 5xx.
BUSY_CODE = retry_code("rate limited or busy")


@frozen
class SignedRobotOptions(UrlOptions):
    """Settings shared by the IM robots that sign their requests (DingTalk, Feishu).

    Attributes:
        url: The robot's webhook URL, with its token (a secret).
        secret: The signing secret, if the robot uses signing.
        secret_file: The same, read from a file.
        timeout: Seconds for the request.
        max_bytes: Largest request body; longer texts are shortened to fit.
    """

    secret: Secret | None = option(optional_secret, default=None, secret=True)
    secret_file: Secret | None = option(secret_file, default=None, secret=True)
    max_bytes: int = option(integer(1000, 20000), default=20000)

    def __post_init__(self) -> None:
        super().__post_init__()
        either(self.secret, self.secret_file, "secret")

    def signing_secret(self) -> Secret | None:
        """The signing secret, from ``secret`` or ``secret_file``."""
        return either(self.secret, self.secret_file, "secret")

    def signature(
        self, attempt: Attempt, sign: Callable[[str, int], str], per_second: int = 1
    ) -> dict[str, str]:
        """``timestamp`` (now, in ``1/per_second`` units) and its ``sign``; none unsigned.

        Args:
            attempt: The send (the secret is revealed through it).
            sign: The platform's signature of (secret, timestamp).
            per_second: 1000 for a timestamp in milliseconds (DingTalk).

        Raises:
            PermanentError: The secret cannot be read.
        """
        import time

        key_ref = self.signing_secret()
        if key_ref is None:
            return {}
        key = attempt.reveal(key_ref)
        timestamp = int(time.time() * per_second)
        return {"timestamp": str(timestamp), "sign": sign(key, timestamp)}


class RobotNotifier(HttpNotifier[OptionsT]):
    """Base of the IM group robots, which answer with a code in a JSON body, 0 for success.

    DingTalk and WeCom answer HTTP 200 with ``errcode``/``errmsg`` for every outcome; Feishu
    answers ``code``/``msg``, also with some 4xx statuses. A subclass states where the code is
    and what its codes mean (:attr:`codes`); it implements only :meth:`build`.
    """

    #: The platform's name, for an answer without a code (a proxy or captive portal answered).
    platform: ClassVar[str]
    #: Where the code may be in the answer, first found wins; the first also names it.
    code_keys: ClassVar[tuple[str, ...]] = ("errcode",)
    #: Where the code's text may be.
    message_keys: ClassVar[tuple[str, ...]] = ("errmsg",)
    #: What the codes other than 0 mean; a code missing here is permanent.
    codes: ClassVar[Mapping[int, Meaning]] = {}
    #: Any status but 200 is an HTTP error before the body is read (False: Feishu).
    codes_only_with_200: ClassVar[bool] = True

    def read(self, response: httpx.Response, request: HttpRequest, attempt: Attempt) -> str:
        """Success is code 0 (``errcode 0 ok``).

        Raises:
            RetryableError: 5xx, 429, or a code :attr:`codes` says is retryable.
            PermanentError: Any other code or status, or no code at all.
        """
        if self.codes_only_with_200 and response.status_code != 200:
            raise self.status_error(response, attempt)
        code, text = self.coded(response, attempt)
        said = f"{self.code_keys[0]} {code} {text}"
        if code == 0:
            return f"{said}{request.note}"
        raise self.code_error(response, attempt, said, self.codes.get(code))

    @final
    def coded(self, response: httpx.Response, attempt: Attempt) -> tuple[int, str]:
        """The code in the answer and its text.

        Returns:
            The code and its text, quoted (one line, secrets redacted).

        Raises:
            RetryableError: No code, and a status that is retryable.
            PermanentError: No code in the answer (a proxy or captive portal answered).
        """
        answer = json_answer(response)
        if not isinstance(answer, dict):
            answer = {}
        code = next((answer[key] for key in self.code_keys if key in answer), None)
        if not isinstance(code, int) or isinstance(code, bool):
            if response.status_code != 200:
                raise self.status_error(response, attempt)
            said = attempt.quote(response.text)
            raise attempt.permanent(
                f"{endpoint(response.request.url)} answered HTTP 200 without a {self.platform}"
                f" {self.code_keys[0]}: {said!r}"
            )
        text = next((answer[key] for key in self.message_keys if key in answer), "")
        return code, attempt.quote(str(text))

    @final
    def code_error(
        self,
        response: httpx.Response,
        attempt: Attempt,
        said: str,
        meaning: Meaning | None,
    ) -> RetryableError | PermanentError:
        """The error for a platform code that is not success.

        Args:
            response: The answer.
            attempt: The send.
            said: The code and its text (``errcode 130101 send too fast``).
            meaning: The code's row in the channel's table, None for a code it does not know:
                permanent, unless the HTTP status itself says "try later" (429, 5xx).
        """
        if (meaning is None or not meaning.retry) and retryable_status(response.status_code):
            meaning = BUSY_CODE
        meaning = meaning or UNKNOWN_CODE
        text = f"{said} ({meaning.hint})"
        if not meaning.retry:
            return attempt.permanent(text)
        wait = retry_after(response) if meaning.after is None else meaning.after
        return attempt.retryable(text, wait)
