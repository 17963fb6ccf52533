"""The notifier family as a whole: registry, contract, naming, option docs, cheap imports."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from kakit import notifiers
from kakit.config import Config
from kakit.core.record import fields, frozen
from kakit.core.secrets import Secret
from kakit.exceptions import ConfigError
from kakit.notifiers.base import Message, Notifier, NotifierOptions
from kakit.notifiers.http import HttpNotifier
from kakit.notifiers.robot import RobotNotifier
from tests.notifiers.runner import make

TYPES = sorted(notifiers.REGISTRY)

#: Per channel type: its base class, default timeout and client-side rate limit.
FAMILY: dict[str, tuple[type[Notifier[Any]], float, tuple[int, float] | None]] = {
    "alertmanager": (HttpNotifier, 5.0, None),
    "dingtalk": (RobotNotifier, 5.0, (20, 60.0)),
    "email": (Notifier, 10.0, None),
    "feishu": (RobotNotifier, 5.0, (100, 60.0)),
    "slack": (HttpNotifier, 5.0, (60, 60.0)),
    "telegram": (HttpNotifier, 5.0, (20, 60.0)),
    "webhook": (HttpNotifier, 5.0, None),
    "wecom": (RobotNotifier, 5.0, (20, 60.0)),
}


@frozen
class LegacyOptions:
    """Options that do not derive from NotifierOptions (no timeout).

    Attributes:
        url: Where to send.
    """

    url: str = "https://x.example/"


class LegacyNotifier(Notifier[LegacyOptions]):  # type: ignore[type-var]
    """A plugin written before the contract declared the timeout."""

    type_name = "legacy"

    async def send(self, message: Message, client: httpx.AsyncClient) -> str:
        """Never called."""
        raise AssertionError("not sent")


class TestRegistry:
    """Every built-in channel type."""

    @pytest.mark.parametrize("type_name", TYPES)
    def test_loads_and_is_named(self, type_name: str) -> None:
        """The class loads, is a Notifier, declares its type name and follows the naming rule."""
        cls = notifiers.load(type_name)
        assert issubclass(cls, Notifier)
        assert cls.type_name == type_name
        assert cls.__name__.endswith("Notifier")
        assert cls.options_class.__name__ == cls.__name__.removesuffix("Notifier") + "Options"

    @pytest.mark.parametrize("type_name", TYPES)
    def test_contract(self, type_name: str) -> None:
        """Its base class, a timeout option with its default, and its rate limit."""
        base, timeout, rate_limit = FAMILY[type_name]
        cls = notifiers.load(type_name)
        assert issubclass(cls, base) and issubclass(cls.options_class, NotifierOptions)
        assert fields(cls.options_class)["timeout"].default == timeout
        assert cls.rate_limit == rate_limit

    @pytest.mark.parametrize(
        "target",
        ["kakit.testing:FakeOptions", "tests.notifiers.test_registry:LegacyNotifier"],
    )
    def test_plugin_breaking_the_contract(
        self, target: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A plugin that is no Notifier, or whose options lack the timeout, fails at load."""
        monkeypatch.setitem(notifiers.REGISTRY, "legacy", target)
        with pytest.raises(
            ConfigError,
            match="does not derive from Notifier with options derived from NotifierOptions",
        ):
            notifiers.load("legacy")

    def test_label_and_timeout(self) -> None:
        """A channel names itself by type and name, and its timeout is the option's."""
        notifier = make("webhook", {"url": "https://x.example/hook", "timeout": "2500ms"}, "ops")
        assert notifier.label == "webhook channel 'ops'"
        assert notifier.timeout == 2.5

    @pytest.mark.parametrize("type_name", TYPES)
    def test_options_documented(self, type_name: str) -> None:
        """The options docstring lists every field under Attributes."""
        options_class = notifiers.load(type_name).options_class
        doc = options_class.__doc__ or ""
        assert "Attributes:" in doc
        for name in fields(options_class):
            assert f"\n        {name}:" in doc, f"{options_class.__name__}.{name} undocumented"

    @pytest.mark.parametrize("type_name", TYPES)
    def test_url_like_secrets_are_masked(self, type_name: str) -> None:
        """Tokens, passwords and signing keys are marked secret in the options."""
        specs = fields(notifiers.load(type_name).options_class)
        for name in (
            "url",
            "secret",
            "secret_file",
            "password",
            "password_file",
            "bot_token",
            "bot_token_file",
            "headers",
        ):
            if name in specs and not (type_name == "alertmanager" and name == "url"):
                assert specs[name].secret, f"{type_name}.{name} is not masked"

    def test_imports_are_cheap(self) -> None:
        """Importing every channel module loads neither httpx, aiosmtplib, json nor ssl."""
        modules = ", ".join(f"kakit.notifiers.{t}" for t in TYPES)
        code = f"import sys, {modules}; print(sorted(m for m in ('httpx', 'aiosmtplib', 'json', 'ssl', 'asyncio', 'email.message') if m in sys.modules))"
        result = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        assert result.stdout.strip() == "[]"


class TestConfigIntegration:
    """Channels written in kakit.yaml go through kakit.config to these options classes."""

    def test_issue_example_channels(self, make_config: Callable[[str], Config]) -> None:
        """The issue's example channels parse, with secrets kept as references."""
        config = make_config(
            """\
            channels:
              ops-ding: {type: dingtalk, url: {env: DING_URL}, secret_file: /etc/kakit/ding.secret, at_mobiles: ["13800000000"], language: zh}
              oncall:   {type: email, host: smtp.example.com, port: 587, starttls: true, username: kakit, password_file: /etc/kakit/smtp.pass, from: kakit@example.com, to: [oncall@example.com]}
              hook:     {type: webhook, url: "https://example.com/hook", headers: {X-Token: {file: /etc/kakit/hook.token}}}
              fleet:    {type: alertmanager, url: "http://127.0.0.1:9093", labels: {cluster: edge}}
            alerts:
              - channels: [ops-ding, oncall, hook, fleet]
            """
        )
        channels = config.channels
        assert channels["ops-ding"].language == "zh"
        assert channels["ops-ding"].options.at_mobiles == ("13800000000",)
        assert channels["oncall"].options.sender == "kakit@example.com"
        assert channels["oncall"].options.password_file == Secret("file", "/etc/kakit/smtp.pass")
        assert channels["hook"].options.headers["X-Token"] == Secret(
            "file", "/etc/kakit/hook.token"
        )
        assert channels["fleet"].options.labels == {"cluster": "edge"}

    def test_option_error_names_the_key(self, make_config: Callable[[str], Config]) -> None:
        """A bad option fails at load time with the channel's key path."""
        with pytest.raises(ConfigError, match=r"channels\.oncall\.to: expected a non-empty list"):
            make_config(
                """\
                channels:
                  oncall: {type: email, host: smtp.example.com, from: kakit@example.com, to: []}
                """
            )
