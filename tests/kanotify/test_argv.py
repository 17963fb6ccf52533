"""Specification of reading keepalived's notify arguments."""

from __future__ import annotations

import pytest

from kakit.exceptions import UsageError
from kakit.kanotify.argv import parse_notify_args, state_only_event
from kakit.kanotify.cli import parse_args


class TestNotifyArguments:
    """The appended INSTANCE|GROUP NAME STATE PRIORITY are read from the end of argv."""

    @pytest.mark.parametrize(
        ("words", "expected"),
        [
            (["INSTANCE", "VI_1", "MASTER", "100"], ("INSTANCE", "VI_1", "MASTER", 100)),
            (
                ["generic", "quoted arg", "INSTANCE", "VI_1", "FAULT", "50"],
                ("INSTANCE", "VI_1", "FAULT", 50),
            ),
            (["GROUP", "G1", "STOP", "0"], ("GROUP", "G1", "STOP", 0)),
            (["INSTANCE", "VI_2", "DELETED", "100"], ("INSTANCE", "VI_2", "DELETED", 100)),
            (["INSTANCE", "INSTANCE", "BACKUP", "255"], ("INSTANCE", "INSTANCE", "BACKUP", 255)),
        ],
    )
    def test_valid(self, words: list[str], expected: tuple[str, str, str, int]) -> None:
        """Configured words before the tail are ignored; the tail is parsed exactly."""
        event = parse_notify_args(words, now=1.0)
        assert (event.kind, event.name, event.state, event.priority) == expected

    @pytest.mark.parametrize(
        ("words", "message"),
        [
            (
                [],
                "expected INSTANCE|GROUP NAME STATE PRIORITY at the end of the arguments, got 'nothing'",
            ),
            (
                ["VI_1", "MASTER", "100"],
                "expected INSTANCE|GROUP NAME STATE PRIORITY at the end of the arguments, got 'VI_1 MASTER 100'",
            ),
            (
                ["ROUTER", "VI_1", "MASTER", "100"],
                "expected INSTANCE or GROUP as the 4th word from the end, got 'ROUTER'",
            ),
            (
                ["INSTANCE", "VI_1", "master", "100"],
                "unknown state 'master' (expected one of MASTER, BACKUP, FAULT, STOP, DELETED)",
            ),
            (
                ["INSTANCE", "VI_1", "MASTER", "high"],
                "priority must be a number 0..255, got 'high'",
            ),
            (["INSTANCE", "VI_1", "MASTER", "300"], "priority must be 0..255, got 300"),
            *(
                (
                    ["INSTANCE", "VI_1", "MASTER", text],
                    f"priority must be a number 0..255, got {text!r}",
                )
                for text in ("+5", "1_0", "٣", "-1", " 5", "")
            ),
        ],
    )
    def test_invalid(self, words: list[str], message: str) -> None:
        """Malformed arguments are refused with a message naming the bad word."""
        with pytest.raises(UsageError) as caught:
            parse_notify_args(words)
        assert str(caught.value) == message


class TestStateOnlyForm:
    """notify_master & co. get no appended arguments."""

    def test_state_and_optional_name(self) -> None:
        """The state comes from the configured word; the name from --instance."""
        event = state_only_event("master", "VI_1")
        assert (event.kind, event.name, event.state, event.priority) == (
            "INSTANCE",
            "VI_1",
            "MASTER",
            -1,
        )

    def test_unknown_state(self) -> None:
        """An unknown state is refused."""
        with pytest.raises(UsageError, match="unknown state 'PRIMARY'"):
            state_only_event("PRIMARY", None)


class TestTailIsData:
    """keepalived's appended words are data even when they look like options."""

    @pytest.mark.parametrize("name", ["-c", "--config", "--instance", "--", "test"])
    def test_instance_named_like_an_option(self, name: str) -> None:
        """An instance called "-c" (or "--") is the instance name, not kanotify's option."""
        args = parse_args(["-c", "/etc/kakit/kakit.yaml", "INSTANCE", name, "MASTER", "100"])
        assert (args.config, args.words) == (
            "/etc/kakit/kakit.yaml",
            ["INSTANCE", name, "MASTER", "100"],
        )
