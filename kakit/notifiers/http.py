"""The base of the HTTP channels: one JSON request per send, through an injected httpx client.

A channel derives from :class:`HttpNotifier` and writes only what differs: :meth:`~HttpNotifier.
build` (URL, body, headers, signature) and, when the platform says more than an HTTP status,
:meth:`~HttpNotifier.read`. What they share is here once: the request with httpx's errors
translated, the status classification (408, 429 and 5xx retryable, honouring ``Retry-After``),
platform error codes (:meth:`~HttpNotifier.coded`), JSON bodies cut to a size limit, and the
choice of client.

The client is the seam: the delivery worker passes one shared ``httpx.AsyncClient`` (one
connection pool for every channel), tests pass one over a local server or an
``httpx.MockTransport``. A channel that verifies TLS differently (``verify: false``,
``ca_file``) cannot share that pool and opens a client of its own per send.

httpx and json are imported inside the functions: the keepalived notify path imports the channel
modules to validate the configuration and must not pay for them.
"""

from __future__ import annotations

from abc import abstractmethod

from kakit.core.converters import integer
from kakit.core.record import frozen, option
from kakit.core.secrets import either, optional_secret, secret_file, secret_ref
from kakit.notifiers.base import Attempt, Notifier, NotifierOptions
from kakit.notifiers.common import endpoint, url_secrets

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from contextlib import AbstractAsyncContextManager
    from typing import Any, ClassVar, final

    import httpx

    from kakit.core.secrets import Secret
    from kakit.exceptions import PermanentError, RetryableError
    from kakit.notifiers.base import Message
else:

    def final(func: object) -> object:
        # typing.final only informs the type checker; importing typing costs start-up time.
        return func


#: DingTalk requires the charset ("必须将字符集编码设置成UTF-8"); the others accept it.
JSON_CONTENT_TYPE = "application/json;charset=utf-8"


def check_url(secret: Secret, what: str = "url") -> None:
    """Refuse an inline URL that is not http(s) (a reference is checked when it is read).

    Raises:
        ValueError: Worded to follow "expected" in the ConfigError; it does not repeat the
            value, which holds the token.
    """
    if secret.kind == "inline" and not secret.ref.strip().startswith(("https://", "http://")):
        raise ValueError(f"{what} to start with https:// or http://")


def dumps(payload: Any) -> bytes:
    """Compact UTF-8 JSON, the exact bytes sent (so size limits can be checked on them)."""
    import json

    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def fit_json(
    build: Callable[[str], Any], text: str, max_bytes: int, marker: str
) -> tuple[bytes, bool]:
    """The JSON body ``build(text)``, with ``text`` shortened as little as needed to fit.

    JSON escaping makes the body grow unevenly with the text (a newline costs two bytes, a
    quote two), so the longest fitting cut is found by bisection on the text's byte budget.
    When even an empty text does not fit, the smallest body is returned and the platform
    will refuse it.

    Returns:
        The body and whether the text was shortened.
    """
    from kakit.notifiers.common import shorten

    body = dumps(build(text))
    if len(body) <= max_bytes:
        return body, False
    low, high = 0, len(text.encode("utf-8"))
    best = dumps(build(shorten(text, 0, marker)))
    while low < high:
        middle = (low + high + 1) // 2
        candidate = dumps(build(shorten(text, middle, marker)))
        if len(candidate) <= max_bytes:
            low, best = middle, candidate
        else:
            high = middle - 1
    return best, True


def json_answer(response: httpx.Response) -> Any:
    """The response body as JSON, or None when it is not JSON."""
    try:
        return response.json()
    except ValueError:
        return None


def retry_after(response: httpx.Response) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or HTTP date), if any."""
    value = response.headers.get("retry-after", "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    import time
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def retryable_status(status: int) -> bool:
    """Whether an HTTP status says "try later": 408, 429 and every 5xx."""
    return status in (408, 429) or status >= 500


class HttpRequest:
    """The request a channel wants sent for one message.

    Args:
        url: The full URL (it may hold the token; messages show only :func:`endpoint`).
        content: The body, usually :func:`dumps` of the payload.
        method: ``POST`` or ``PUT``.
        headers: Headers besides ``Content-Type: application/json`` (which they may replace).
        params: Query parameters *added* to the URL's own query (httpx's ``params=`` would
            replace it and drop DingTalk's ``access_token``); encoded exactly once.
        note: Appended to the answer on success (``(text shortened to fit 20000 bytes)``).
    """

    __slots__ = ("content", "headers", "method", "note", "params", "url")

    def __init__(
        self,
        url: str,
        content: bytes,
        *,
        method: str = "POST",
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        note: str = "",
    ) -> None:
        self.url = url
        self.content = content
        self.method = method
        self.headers = {"Content-Type": JSON_CONTENT_TYPE, **(headers or {})}
        self.params = dict(params or {})
        self.note = note


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
class UrlOptions(NotifierOptions):
    """Settings of a channel addressed by one URL that holds its credential.

    Attributes:
        url: The webhook URL with its token (a secret).
        timeout: Seconds for the request.
    """

    url: Secret = option(secret_ref, secret=True)

    def __post_init__(self) -> None:
        check_url(self.url)


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


class HttpNotifier(Notifier):
    """Base of the channels that send one HTTP request per message.

    Subclasses implement :meth:`build`, and :meth:`read` when success takes more than a 2xx
    status; a channel with TLS options overrides :meth:`verify`.
    """

    async def send(self, message: Message, client: httpx.AsyncClient) -> str:
        """Build the request, send it, read the answer.

        Raises:
            RetryableError: Transport or TLS error, 408, 429, 5xx, or what :meth:`read` finds
                retryable; NotifierTimeout when no answer came within :attr:`timeout`.
            PermanentError: An unreadable secret or CA file, an unusable URL, any other status,
                or what :meth:`read` finds permanent.
        """
        attempt = Attempt(self)
        request = self.build(message, attempt)
        async with self.client(client) as chosen:
            response = await self.request(chosen, request, attempt)
        return self.read(response, request, attempt)

    @abstractmethod
    def build(self, message: Message, attempt: Attempt) -> HttpRequest:
        """The request carrying ``message``; secrets are revealed through ``attempt``.

        Raises:
            PermanentError: A secret cannot be read.
        """

    def read(self, response: httpx.Response, request: HttpRequest, attempt: Attempt) -> str:
        """The platform's answer in a few words; by default any 2xx status is success.

        Raises:
            RetryableError: 408, 429, 5xx.
            PermanentError: Any other status.
        """
        if not 200 <= response.status_code < 300:
            raise self.status_error(response, attempt)
        return f"HTTP {response.status_code} from {endpoint(request.url)}{request.note}"

    def verify(self) -> bool | str:
        """How the server's certificate is checked: ``True`` against the system CAs (the
        shared client), ``False`` not at all, or a path: against that CA bundle."""
        return True

    @final
    def reveal_url(self, secret: Secret, attempt: Attempt) -> str:
        """The URL's value; it and its parts that may be credentials are redacted from errors.

        Raises:
            PermanentError: The URL's file or variable cannot be read.
        """
        url = attempt.reveal(secret)
        attempt.hide(*url_secrets(url))
        return url

    @final
    def client(self, shared: httpx.AsyncClient) -> AbstractAsyncContextManager[httpx.AsyncClient]:
        """The worker's shared client, or a client of this send's own when :meth:`verify` asks
        for other TLS settings than the shared pool's.

        Raises:
            PermanentError: The CA file cannot be read.
        """
        verify = self.verify()
        if verify is True:
            import contextlib

            return contextlib.nullcontext(shared)
        import httpx

        context = self.trust(verify) if isinstance(verify, str) else False
        return httpx.AsyncClient(verify=context, trust_env=False)

    @final
    async def request(
        self, client: httpx.AsyncClient, request: HttpRequest, attempt: Attempt
    ) -> httpx.Response:
        """Send ``request`` once with httpx's errors translated (nothing is retried here).

        The channel's :attr:`timeout` is given to httpx for this request (connect, read, write
        and pool wait each), so one shared client serves channels with different timeouts.

        Raises:
            NotifierTimeout: No answer within the timeout.
            RetryableError: Connection refused, TLS failure, broken connection.
            PermanentError: The URL cannot be requested at all (bad scheme or syntax).
        """
        import httpx

        where = endpoint(request.url)
        seconds = self.timeout
        try:
            target = httpx.URL(request.url)
            if request.params:
                target = target.copy_merge_params(request.params)
            return await client.request(
                request.method,
                target,
                content=request.content,
                headers=request.headers,
                timeout=seconds,
            )
        except httpx.TimeoutException as exc:
            raise attempt.timed_out(
                f"no answer from {where} within {seconds:g} s ({type(exc).__name__})"
            ) from exc
        except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
            raise attempt.permanent(f"cannot request {where}: {attempt.redact(str(exc))}") from exc
        except httpx.HTTPError as exc:
            reason = attempt.redact(str(exc)) or type(exc).__name__
            raise attempt.retryable(f"request to {where} failed: {reason}") from exc

    @final
    def status_error(
        self, response: httpx.Response, attempt: Attempt, detail: str | None = None
    ) -> RetryableError | PermanentError:
        """The error for a status that is not success: 408, 429 and 5xx retryable (honouring
        ``Retry-After``), the rest permanent.

        Args:
            response: The answer.
            attempt: The send (for the label and the secrets to redact).
            detail: What the platform said, when the channel parsed it (default: the body).
        """
        status = response.status_code
        said = attempt.quote(response.text if detail is None else detail)
        text = f"HTTP {status} {response.reason_phrase}" + (f": {said}" if said else "")
        if retryable_status(status):
            return attempt.retryable(text, retry_after(response))
        return attempt.permanent(text)


class RobotNotifier(HttpNotifier):
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
        if meaning is None or not meaning.retry:
            meaning = BUSY_CODE if retryable_status(response.status_code) else meaning
        meaning = meaning or UNKNOWN_CODE
        text = f"{said} ({meaning.hint})"
        if not meaning.retry:
            return attempt.permanent(text)
        wait = retry_after(response) if meaning.after is None else meaning.after
        return attempt.retryable(text, wait)
