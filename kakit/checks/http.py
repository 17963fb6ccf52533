"""``http``: an HTTP(S) GET answers with an expected status (keepalived HTTP_GET names).

httpx is imported only when the check runs; it is the costliest import kakit has (see
docs/benchmarks.md), so frequent HTTP checks belong in watch mode, which pays it once.
"""

from __future__ import annotations

from kakit.checks.base import Check, CheckResult, RunContext
from kakit.core.converters import (
    boolean,
    choice,
    duration,
    host,
    optional,
    optional_string,
    port,
    status_codes,
    string,
    string_map,
)
from kakit.core.record import frozen, option


@frozen
class HttpOptions:
    """Settings of an HTTP check.

    Attributes:
        scheme: http or https.
        host: Address or name to connect to.
        port: TCP port (default 80 for http, 443 for https).
        path: Request path.
        virtualhost: Host header, when it differs from ``host``.
        status_code: Accepted statuses, keepalived style: ``200-299`` or ``200-299 301``.
        contains: Text the body must contain.
        timeout: Seconds for the whole request.
        verify: Verify the TLS certificate (https).
        headers: Extra request headers.
    """

    scheme: str = option(choice("http", "https"), default="http")
    host: str = option(host, default="127.0.0.1")
    port: int | None = option(optional(port), default=None)
    path: str = option(string, default="/")
    virtualhost: str | None = option(optional_string, default=None)
    status_code: tuple[tuple[int, int], ...] = option(status_codes, default=((200, 299),))
    contains: str | None = option(optional_string, default=None)
    timeout: float = option(duration(high=60.0), default=1.0)
    verify: bool = option(boolean, default=True)
    headers: dict[str, str] = option(string_map, default={})

    def __post_init__(self) -> None:
        if not self.path.startswith("/"):
            raise ValueError(f"path must start with '/', got {self.path!r}")

    def url(self) -> str:
        """The URL requested."""
        default_port = 443 if self.scheme == "https" else 80
        number = self.port or default_port
        netloc = f"[{self.host}]" if ":" in self.host else self.host
        suffix = "" if number == default_port else f":{number}"
        return f"{self.scheme}://{netloc}{suffix}{self.path}"


def status_allowed(status: int, ranges: tuple[tuple[int, int], ...]) -> bool:
    """Whether ``status`` falls in one of the accepted ranges."""
    return any(low <= status <= high for low, high in ranges)


def http_probe(opts: HttpOptions, timeout: float) -> tuple[bool, str]:
    """One GET; returns ``(ok, summary)``. Network errors are failures, not exceptions."""
    import httpx

    url = opts.url()
    if timeout <= 0:
        return False, f"GET {url}: no time left before the deadline"
    headers = dict(opts.headers)
    if opts.virtualhost:
        headers["Host"] = opts.virtualhost
    try:
        with httpx.Client(
            verify=opts.verify, timeout=timeout, follow_redirects=False, trust_env=False
        ) as client:
            response = client.get(url, headers=headers)
    except httpx.TimeoutException:
        return False, f"GET {url}: no answer within {timeout:g} s"
    except httpx.HTTPError as exc:
        return False, f"GET {url}: {type(exc).__name__}: {exc}"
    if not status_allowed(response.status_code, opts.status_code):
        wanted = " ".join(f"{a}-{b}" if a != b else str(a) for a, b in opts.status_code)
        return False, f"GET {url}: status {response.status_code}, expected {wanted}"
    if opts.contains is not None and opts.contains not in response.text:
        return False, f"GET {url}: status {response.status_code} but body lacks {opts.contains!r}"
    return True, f"GET {url}: {response.status_code}"


class HttpCheck(Check[HttpOptions]):
    """Passes when the GET answers an accepted status (and body text)."""

    type_name = "http"

    def run(self, ctx: RunContext) -> CheckResult:
        """Send one request."""
        ok, summary = http_probe(self.options, ctx.remaining(self.options.timeout))
        return CheckResult(ok=ok, summary=summary)

    def describe(self) -> str:
        """``http http://127.0.0.1/``."""
        return f"http {self.options.url()}"
