"""Helpers for testing code that uses kakit, and kakit's own tests.

``FakeNotifier`` is a channel type that records what it is asked to send and can be scripted to
fail; register it for a test with ``use_fake_notifier()``.
"""

from __future__ import annotations

from kakit import notifiers
from kakit.core.converters import string
from kakit.core.record import frozen, option
from kakit.exceptions import NotifierTimeout, PermanentError, RetryableError
from kakit.notifiers.base import Message, Notifier, NotifierOptions

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import ClassVar

    import httpx


@frozen
class FakeOptions(NotifierOptions):
    """Settings of the fake channel.

    Attributes:
        label: Free text, unused (proves options are passed through).
        timeout: Seconds a send may take (the fake answers at once).
    """

    label: str = option(string, default="fake")


class FakeNotifier(Notifier[FakeOptions]):
    """Records sends in ``FakeNotifier.sent[channel]``; fails as scripted in ``failures``.

    ``failures[channel]`` is a list consumed one entry per send: ``"retry"`` raises
    RetryableError, ``"timeout"`` NotifierTimeout, ``"permanent"`` PermanentError, ``None``
    lets the send succeed.
    """

    type_name = "fake"
    sent: ClassVar[dict[str, list[Message]]] = {}
    failures: ClassVar[dict[str, list[str | None]]] = {}
    attempts: ClassVar[dict[str, int]] = {}

    async def send(self, message: Message, client: httpx.AsyncClient) -> str:
        """Record or fail, as scripted."""
        FakeNotifier.attempts[self.name] = FakeNotifier.attempts.get(self.name, 0) + 1
        script = FakeNotifier.failures.get(self.name)
        outcome = script.pop(0) if script else None
        if outcome == "retry":
            raise RetryableError(f"{self.name}: scripted temporary failure")
        if outcome == "timeout":
            raise NotifierTimeout(f"{self.name}: scripted timeout")
        if outcome == "permanent":
            raise PermanentError(f"{self.name}: scripted permanent failure")
        FakeNotifier.sent.setdefault(self.name, []).append(message)
        return "recorded"

    @classmethod
    def reset(cls) -> None:
        """Forget everything recorded and scripted."""
        cls.sent.clear()
        cls.failures.clear()
        cls.attempts.clear()


def use_fake_notifier() -> None:
    """Make ``type: fake`` available to configurations in this process."""
    notifiers.REGISTRY["fake"] = "kakit.testing:FakeNotifier"
    FakeNotifier.reset()


def delivery_worker_pids(config_path: str) -> list[int]:
    """Pids of running delivery workers started with ``-c config_path`` (read from /proc)."""
    import os

    needle = config_path.encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                argv = handle.read().split(b"\0")
        except OSError:
            continue
        if b"kakit.alerts.delivery" in argv and needle in argv:
            found.append(int(entry))
    return found
