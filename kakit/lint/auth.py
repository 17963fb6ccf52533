"""``auth_pass`` longer than the 8 characters VRRPv2's authentication field holds."""

from __future__ import annotations

from kakit.lint.base import Finding, Rule

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import ClassVar

    from kakit.lint.base import Context

#: The PASS authentication data of a VRRPv2 advert is 8 octets (RFC 2338 5.3.10).
AUTH_PASS_LENGTH = 8


class AuthRule(Rule):
    """keepalived truncates auth_pass to 8 characters."""

    codes: ClassVar[dict[str, str]] = {
        "auth-pass-length": "auth_pass over 8 characters (keepalived truncates it)"
    }

    def check(self, context: Context) -> Iterator[Finding]:
        """One finding per instance whose auth_pass is too long."""
        for instance in context.node.instances:
            auth = instance.first("authentication")
            if auth is None or len(instance.auth_pass.encode()) <= AUTH_PASS_LENGTH:
                continue
            item = auth.children("auth_pass")[0]
            kept = instance.auth_pass.encode()[:AUTH_PASS_LENGTH].decode("utf-8", "replace")
            yield self.at(
                item,
                "warning",
                "auth-pass-length",
                f"{instance.name}: auth_pass is {len(instance.auth_pass.encode())} bytes; "
                f"keepalived uses only the first {AUTH_PASS_LENGTH} ({kept!r}), so a peer "
                "with another ending still matches",
                f"write the {AUTH_PASS_LENGTH} characters keepalived uses (PASS is sent in "
                "clear text: it separates VRRP groups, it does not secure them)",
            )
