"""The base of the HTTP channels: one JSON request per send, through an injected httpx client.

A channel derives from :class:`HttpNotifier` and writes only what differs: ``build`` (URL,
body, headers, signature) and, when the platform says more than an HTTP status, ``read``. What
they share is here once: the request with httpx's errors translated, the status classification
(408, 429 and 5xx retryable, honouring ``Retry-After``), JSON bodies cut to a size limit, and
the choice of client, and reading at most :data:`MAX_ANSWER_BYTES` of an answer. The IM robots, which answer with error codes, build on
:class:`kakit.notifiers.robot.RobotNotifier`.

The client is the seam: the delivery worker passes one shared ``httpx.AsyncClient`` (one
connection pool for every channel), tests pass one over a local server or an
``httpx.MockTransport``. A channel that verifies TLS differently (``verify: false``,
``ca_file``) cannot share that pool and opens a client of its own per send.

httpx and json are imported inside the functions: the keepalived notify path imports the channel
modules to validate the configuration and must not pay for them.
"""

from __future__ import annotations

from abc import abstractmethod

from kakit.core.record import frozen, option
from kakit.core.secrets import secret_ref
from kakit.notifiers.base import Attempt, Notifier, NotifierOptions, OptionsT
from kakit.notifiers.common import endpoint, marker, shorten, url_secrets

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from contextlib import AbstractAsyncContextManager
    from typing import Any, final

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
#: Bytes of an answer's body read at most, before and after decompression. Every platform says
#: what matters in well under 1 KiB (Telegram echoes the message: under 20 KiB); the rest of a
#: larger body is never read, so a misbehaving endpoint cannot fill the worker's memory.
MAX_ANSWER_BYTES = 64 * 1024


def url_authorization(url: str, headers: Mapping[str, object]) -> None:
    """Refuse credentials in the URL together with a configured ``Authorization`` header.

    httpx turns user info in a URL into ``Authorization: Basic`` and drops the configured header
    without a word; neither choice is safe to guess, so both at once is a configuration error.

    Raises:
        ValueError: Worded to follow "expected" in the ConfigError (no value repeated).
    """
    from kakit.core.secrets import mask_userinfo

    if mask_userinfo(url) != url and any(key.lower() == "authorization" for key in headers):
        raise ValueError(
            "credentials in the url or an Authorization header, not both (httpx would replace"
            " the header with the url's)"
        )


def decoded(raw: bytes, encoding: str, limit: int = MAX_ANSWER_BYTES) -> bytes:
    """An answer's body from its first bytes and its ``Content-Encoding``, at most ``limit``
    bytes. A few KiB of gzip may inflate to gigabytes, so decompression stops at ``limit``;
    an encoding other than gzip or deflate is not decoded (the status still speaks)."""
    import zlib

    coding = encoding.strip().lower()
    if coding in ("", "identity"):
        return raw[:limit]
    if coding not in ("gzip", "x-gzip", "deflate"):
        return b""
    # 47: a gzip or zlib header, detected; -15: raw deflate, which some servers send as deflate.
    for wbits in (47, -15):
        try:
            return zlib.decompressobj(wbits).decompress(raw, limit)
        except zlib.error:
            continue
    return b""


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
    build: Callable[[str], Any], text: str, max_bytes: int, language: str
) -> tuple[bytes, str]:
    """The JSON body ``build(text)``, with ``text`` shortened as little as needed to fit.

    JSON escaping makes the body grow unevenly with the text (a newline costs two bytes, a
    quote two), so the longest fitting cut is found by bisection on the text's byte budget.
    A cut text ends with the marker of the message's ``language``. When even an empty text
    does not fit, the smallest body is returned and the platform will refuse it.

    Returns:
        The body, and the note for the answer: empty, or that the text was shortened.
    """
    body = dumps(build(text))
    if len(body) <= max_bytes:
        return body, ""
    cut = marker(language)
    low, high = 0, len(text.encode("utf-8"))
    best = dumps(build(shorten(text, 0, cut)))
    while low < high:
        middle = (low + high + 1) // 2
        candidate = dumps(build(shorten(text, middle, cut)))
        if len(candidate) <= max_bytes:
            low, best = middle, candidate
        else:
            high = middle - 1
    return best, f" (text shortened to fit {max_bytes} bytes)"


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


async def body_at_most(response: httpx.Response, limit: int = MAX_ANSWER_BYTES) -> bytes:
    """The first ``limit`` bytes of a streamed response's body, decoded (:func:`decoded`).

    Only the raw stream is read, never more than ``limit`` bytes of it.
    """
    if response.is_stream_consumed:
        # A response made in memory (httpx.MockTransport) arrives read and decoded already.
        return response.content[:limit]
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_raw():
        chunks.append(chunk)
        size += len(chunk)
        if size >= limit:
            break
    return decoded(b"".join(chunks)[:limit], response.headers.get("content-encoding", ""), limit)


def retryable_status(status: int) -> bool:
    """Whether an HTTP status says "try later": 408, 429 and every 5xx."""
    return status in (408, 429) or status >= 500


class HttpRequest:
    """The request a channel wants sent for one message.

    Args:
        url: The full URL (it may hold the token; messages show only :func:`endpoint`).
        content: The body, usually :func:`dumps` of the payload.
        method: ``POST`` or ``PUT``.
        headers: Headers besides ``Content-Type: application/json`` and ``Accept-Encoding``
            (which they may replace).
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
        # Only what :func:`decoded` reads, whatever decoders httpx has installed.
        self.headers = {
            "Content-Type": JSON_CONTENT_TYPE,
            "Accept-Encoding": "gzip, deflate",
            **(headers or {}),
        }
        self.params = dict(params or {})
        self.note = note


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


class HttpNotifier(Notifier[OptionsT]):
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
        # Whatever the channel built the URL from (Telegram's token, Alertmanager's user info).
        attempt.hide(*url_secrets(request.url))
        try:
            url_authorization(request.url, request.headers)
        except ValueError as exc:
            raise attempt.permanent(f"expected {exc}") from None
        async with self.client(client) as chosen:
            response = await self.request(chosen, request, attempt)
        return attempt.redact(self.read(response, request, attempt))

    @abstractmethod
    def build(self, message: Message, attempt: Attempt) -> HttpRequest:
        """The request carrying ``message``; secrets are revealed through ``attempt``.

        Raises:
            PermanentError: A secret (URL, token, signing key, header value) cannot be read.
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

        The channel's :attr:`timeout` bounds the whole exchange, and httpx gets it for each
        step too, so one shared client serves channels with different timeouts. At most
        :data:`MAX_ANSWER_BYTES` of the answer's body are read; the connection is then closed.

        Returns:
            The answer, its body already read (and cut to :data:`MAX_ANSWER_BYTES`).

        Raises:
            NotifierTimeout: No complete answer within the timeout.
            RetryableError: Connection refused, TLS failure, broken connection.
            PermanentError: The URL cannot be requested at all (bad scheme or syntax), or a
                header value is not ASCII.
        """
        import asyncio

        import httpx

        where = endpoint(request.url)
        seconds = self.timeout
        try:
            async with asyncio.timeout(seconds):
                target = httpx.URL(request.url)
                if request.params:
                    target = target.copy_merge_params(request.params)
                outgoing = client.build_request(
                    request.method,
                    target,
                    content=request.content,
                    headers=request.headers,
                    timeout=seconds,
                )
                answer = await client.send(outgoing, stream=True)
                try:
                    body = await body_at_most(answer)
                finally:
                    await answer.aclose()
        except (httpx.TimeoutException, TimeoutError) as exc:
            raise attempt.timed_out(
                f"no answer from {where} within {seconds:g} s ({type(exc).__name__})"
            ) from exc
        except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
            raise attempt.permanent(f"cannot request {where}: {exc}") from exc
        except UnicodeEncodeError as exc:
            # httpx sends header values as ASCII; the message names no value (a secret).
            raise attempt.permanent(
                f"cannot request {where}: a header value holds characters other than ASCII"
            ) from exc
        except httpx.HTTPError as exc:
            raise attempt.retryable(
                f"request to {where} failed: {str(exc) or type(exc).__name__}"
            ) from exc
        # The body as read, decoded here within the limit: the headers that describe the
        # whole body on the wire no longer apply to it.
        headers = [
            (key, value)
            for key, value in answer.headers.multi_items()
            if key.lower() not in ("content-encoding", "content-length", "transfer-encoding")
        ]
        return httpx.Response(
            answer.status_code,
            headers=headers,
            content=body,
            request=answer.request,
            extensions=answer.extensions,
        )

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
