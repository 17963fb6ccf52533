"""Secrets in the channels section: what counts as one, when inline is refused, how it prints.

The classes of the hardening issue: a credential in any option that can carry one (every header
value, user info in any URL) is refused inline in a file others can read, and is masked by
``kakit config check``; credentials in a URL and an ``Authorization`` header at once are refused.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from kakit import notifiers
from kakit.config import load_config
from kakit.config.show import effective
from kakit.core.record import fields
from kakit.exceptions import ConfigError

REFUSED = "an inline secret in a file readable by group or others (mode 0644)"

#: One channel per option that can carry a credential, each written inline.
INLINE = {
    "webhook-header": (
        "{type: webhook, url: {env: HOOK_URL}, headers: {X-Api-Key: k3y-inline-1}}",
        "channels.c.headers.X-Api-Key",
        "k3y-inline-1",
    ),
    "webhook-numeric-header": (
        "{type: webhook, url: {env: HOOK_URL}, headers: {X-Pin: 918273}}",
        "channels.c.headers.X-Pin",
        "918273",
    ),
    "alertmanager-header": (
        "{type: alertmanager, url: 'http://am:9093', headers: {Authorization: Bearer t0k-inline}}",
        "channels.c.headers.Authorization",
        "t0k-inline",
    ),
    "alertmanager-url-userinfo": (
        "{type: alertmanager, url: 'http://kakit:pa55-inline@am:9093'}",
        "channels.c.url",
        "pa55-inline",
    ),
    "telegram-api-url-userinfo": (
        "{type: telegram, chat_id: 1, bot_token_file: /etc/t, api_url: 'https://u:pa55-tg@tg'}",
        "channels.c.api_url",
        "pa55-tg",
    ),
    "email-password": (
        "{type: email, host: smtp, username: u, password: pa55-mail, from: a@b.example, to: c@d.example}",
        "channels.c.password",
        "pa55-mail",
    ),
}


@pytest.fixture(name="write")
def _write(write_config: Callable[[str], Path]) -> Callable[[str, int], Path]:
    """Write a configuration with one channel ``c`` and give the file ``mode``."""

    def write(channel: str, mode: int) -> Path:
        path = write_config(f"channels:\n  c: {channel}\nalerts: [{{channels: [c]}}]\n")
        path.chmod(mode)
        return path

    return write


class TestInlineSecrets:
    """A secret written into the file is acceptable only in a file nobody else can read."""

    @pytest.mark.parametrize("case", list(INLINE), ids=list(INLINE))
    def test_refused_in_a_readable_file(
        self, write: Callable[[str, int], Path], monkeypatch: pytest.MonkeyPatch, case: str
    ) -> None:
        """Each credential-carrying option written inline is refused at 0644, named, unshown."""
        channel, where, value = INLINE[case]
        monkeypatch.setenv("HOOK_URL", "https://hook.example/x")
        path = write(channel, 0o644)
        with pytest.raises(ConfigError) as refused:
            load_config(str(path))
        assert REFUSED in str(refused.value)
        assert where in str(refused.value)
        assert value not in str(refused.value)

    @pytest.mark.parametrize("case", list(INLINE), ids=list(INLINE))
    def test_accepted_and_masked_in_a_private_file(
        self, write: Callable[[str, int], Path], case: str
    ) -> None:
        """At 0600 the same file loads, and the effective configuration never shows the value."""
        channel, _, value = INLINE[case]
        config = load_config(str(write(channel, 0o600)))
        assert value not in repr(effective(config))

    def test_references_are_not_inline(self, write: Callable[[str, int], Path]) -> None:
        """Header values and URLs given by reference, without user info, load at 0644."""
        config = load_config(
            str(
                write(
                    "{type: alertmanager, url: 'http://am:9093',"
                    " headers: {Authorization: {file: /etc/kakit/am.auth}}}",
                    0o644,
                )
            )
        )
        assert effective(config)["channels"]["c"]["headers"] == {
            "Authorization": "{file: /etc/kakit/am.auth}"
        }

    def test_url_user_info_masked(self, write: Callable[[str, int], Path]) -> None:
        """config check shows the URL with its user info replaced, the host kept."""
        config = load_config(
            str(write("{type: alertmanager, url: 'http://u:pw99@am:9093'}", 0o600))
        )
        assert effective(config)["channels"]["c"]["url"] == "http://***@am:9093"

    @pytest.mark.parametrize("type_name", sorted(notifiers.REGISTRY))
    def test_every_header_option_is_secret(self, type_name: str) -> None:
        """A channel type's ``headers`` option, where it has one, is declared secret."""
        specs = fields(notifiers.load(type_name).options_class)
        assert "headers" not in specs or specs["headers"].secret


class TestUrlCredentialsAndAuthorization:
    """Credentials in a URL and a configured Authorization header at once are ambiguous."""

    @pytest.mark.parametrize(
        "channel",
        [
            "{type: alertmanager, url: 'http://u:pw@am:9093', headers: {authorization: {env: A}}}",
            "{type: webhook, url: 'https://u:pw@hook.example/x', headers: {Authorization: {env: A}}}",
        ],
        ids=["alertmanager", "webhook"],
    )
    def test_refused_at_load(self, write: Callable[[str, int], Path], channel: str) -> None:
        """The configuration is refused: httpx would silently replace the configured header."""
        with pytest.raises(ConfigError, match="credentials in the url or an Authorization header"):
            load_config(str(write(channel, 0o600)))
