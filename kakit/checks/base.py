"""The contract of the check family.

A check type is one class, ``<Thing>Check(Check)``, in its own module, with a frozen options
class. ``run`` is synchronous on purpose: keepalived forks ``kacheck`` every interval and asyncio
alone costs more than the whole run budget (docs/benchmarks.md). Checks that need to wait
(ping replies, a restarted service) do so within ``ctx.remaining()``.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod

from kakit.core.record import Member, OptionsT, frozen

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import ClassVar

    from kakit.config.schema import Config
    from kakit.kacheck.state import CheckState


@frozen
class CheckResult:
    """What one check run found.

    Attributes:
        ok: The check passed.
        summary: One line saying what was seen (and done), for the log.
        remedy_pending: The check failed but has a remedy still under way or budgeted (a
            service restart): do not escalate yet.
        events: What the check did that people should hear about, from
            :data:`kakit.core.events.CHECK_EVENTS` (``restart``, ``restart_failed``,
            ``give_up``); the runner alerts them.
        measured: The verdict rests on what the check observed. False for a failure to measure
            at all (a gateway check that could not send its packets: no route, no address
            yet): that is unhealthy, but it never latches or escalates, because nothing was
            seen to be wrong with what the check watches.
    """

    ok: bool
    summary: str
    remedy_pending: bool = False
    events: tuple[str, ...] = ()
    measured: bool = True


class RunContext:
    """What a check may use while it runs.

    Args:
        check_name: The configured name (``nginx``, ``uplink``), used in state keys and logs.
        state: The check's persistent state (restart history), saved by the runner.
        deadline: ``time.monotonic()`` value by which the whole run must be over, or None.
        config: The loaded configuration, for checks that name this node or read
            keepalived's configuration (None in tests that build a bare context).
    """

    def __init__(
        self,
        check_name: str,
        state: CheckState,
        deadline: float | None,
        config: Config | None = None,
    ) -> None:
        self.check_name = check_name
        self.state = state
        self.deadline = deadline
        self.config = config

    @property
    def node(self) -> str:
        """This node's name: ``node`` in the configuration, else the host name."""
        if self.config is not None:
            return self.config.node_name()
        import os

        return os.uname().nodename

    def remaining(self, cap: float | None = None) -> float:
        """Seconds left before the deadline (never negative), optionally capped."""
        left = float("inf") if self.deadline is None else max(0.0, self.deadline - time.monotonic())
        return left if cap is None else min(left, cap)

    def expired(self) -> bool:
        """True once the deadline has passed."""
        return self.deadline is not None and time.monotonic() >= self.deadline


class Check(Member[OptionsT], ABC):
    """Base class of every check type.

    A subclass names its options record in its base (``class TcpCheck(Check[TcpOptions])``, a
    :func:`kakit.core.record.frozen` class whose fields carry converters), sets ``type_name`` (the
    YAML ``type:``) and implements :meth:`run`. Construction must be cheap and import nothing
    heavy: import libraries inside :meth:`run`.
    """

    type_name: ClassVar[str]

    def __init__(self, options: OptionsT) -> None:
        self.options = options

    @abstractmethod
    def run(self, ctx: RunContext) -> CheckResult:
        """Probe once and report.

        Raises:
            CheckError: The check could not be carried out at all (counts as a failure).
        """

    def describe(self) -> str:
        """A short human label for logs (``service nginx``)."""
        return self.type_name
