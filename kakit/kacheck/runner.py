"""Running a named check once, as keepalived's ``vrrp_script`` does.

Order of one run: take the per-check lock (a copy still running answers with the last recorded
result instead of piling up: keepalived 2.1.3-2.3.2 starts overlapping copies), honour a latch,
run the probes in order, escalate a final failure, record the result, log one line.
"""

from __future__ import annotations

import os
import time

from kakit.checks import load
from kakit.checks.base import Check, CheckResult, RunContext
from kakit.core.fsutil import ensure_dir
from kakit.core.locks import FileLock
from kakit.core.log import logger
from kakit.core.record import replace
from kakit.exceptions import EXIT_FAILURE, EXIT_OK, CheckError, KakitError
from kakit.kacheck import latch as latches
from kakit.kacheck.state import CheckState, state_path

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from kakit.checks.spec import CheckSpec
    from kakit.config.schema import Config


class CheckRunner:
    """Runs one named check; instances are reused by watch mode.

    The check objects are built once, here, from the spec's validated options. A run holds the
    check's lock (:meth:`acquire`/:meth:`release`) and works on the check's persistent state
    (:meth:`load_state`), which the caller saves.

    Args:
        config: The loaded configuration (for the directories).
        spec: The check to run.
    """

    def __init__(self, config: Config, spec: CheckSpec) -> None:
        self.config = config
        self.spec = spec
        self.checks: list[Check[Any]] = [load(probe.type)(probe.options) for probe in spec.probes]
        checks_dir = os.path.join(config.paths.state_dir, "checks")
        self._state_path = state_path(config.paths.state_dir, spec.name)
        self._lock = FileLock(os.path.join(checks_dir, f"{spec.name}.lock"))
        self._checks_dir = checks_dir

    def prepare(self) -> None:
        """Create the state directory (0700: state names commands and addresses)."""
        ensure_dir(self.config.paths.state_dir, 0o755)
        ensure_dir(self._checks_dir, 0o700)

    def acquire(self, timeout: float = 0.0) -> bool:
        """Take the check's lock, waiting up to ``timeout`` seconds (0: try once); True if taken."""
        if timeout <= 0:
            return self._lock.try_acquire()
        return self._lock.acquire(timeout)

    def release(self) -> None:
        """Release the check's lock."""
        self._lock.release()

    def load_state(self) -> CheckState:
        """The check's persistent state (empty when there is none yet)."""
        return CheckState.load(self._state_path)

    def evaluate(self, state: CheckState) -> CheckResult:
        """Run the probes in order; the first failure decides."""
        deadline = None if self.spec.deadline is None else time.monotonic() + self.spec.deadline
        ctx = RunContext(self.spec.name, state, deadline)
        summaries = []
        events: tuple[str, ...] = ()  # a passing probe may have restarted its service
        for check in self.checks:
            try:
                result = check.run(ctx)
            except CheckError as exc:
                result = CheckResult(ok=False, summary=f"{check.describe()}: {exc}")
            if not result.ok:
                return replace(result, events=events + result.events) if events else result
            summaries.append(result.summary)
            events += result.events
        return CheckResult(ok=True, summary="; ".join(summaries), events=events)

    def escalate(self, result: CheckResult, events: list[str]) -> str:
        """Apply ``latch``/``on_failure`` to a final failure; returns what was done.

        Args:
            result: The final failure.
            events: What the run did so far; ``latch`` is added. With ``stop-keepalived``,
                ``escalate`` too, and the alert is queued here and the list emptied: before
                keepalived is signalled, as keepalived kills this process group next.
        """
        spec = self.spec
        data_dir = self.config.paths.data_dir
        done = ""
        if spec.latch or spec.on_failure == "stop-keepalived":
            latches.set_latch(data_dir, spec.name, result.summary)
            done = f"; latched (clear with `kakit latch clear {spec.name}`)"
            events.append("latch")
        if spec.on_failure == "stop-keepalived":
            events.append("escalate")
            done += self.tell(events, result)
            events.clear()
            # The log line goes out before the signal: keepalived kills our process group next.
            logger.error(f"{spec.name}: FAIL: {result.summary}{done}; stopping keepalived")
            from kakit.kacheck.escalate import stop_keepalived

            try:
                done += f"; {stop_keepalived()}"
            except CheckError as exc:
                done += f"; could not stop keepalived: {exc}"
        return done

    def tell(self, events: list[str], result: CheckResult) -> str:
        """Queue the alert for what this run did (nothing when it did nothing)."""
        if not events:
            return ""
        from kakit.kacheck.alerting import queue_alert

        return queue_alert(
            self.config, self.spec.name, events, f"{self.spec.name}: {result.summary}"
        )

    def run_once(self, state: CheckState) -> tuple[bool, str]:
        """One full run under the lock already held: latch, probes, escalation, alert, record."""
        spec = self.spec
        latch = latches.get(self.config.paths.data_dir, spec.name)
        if latch is not None:
            summary = f"{latch.describe()} (clear with `kakit latch clear {spec.name}`)"
            state.record_result(False, summary)
            return False, summary
        result = self.evaluate(state)
        summary = result.summary
        events: list[str] = []
        # "gave_up" (kakit.kacheck.alerting.GAVE_UP): a give-up was alerted; a healthy run
        # clears it. Checked here so that a run with nothing to say imports nothing.
        if result.events or "gave_up" in state.data:
            from kakit.kacheck.alerting import unannounced

            events = unannounced(state, result)
        # Only an observed failure escalates: a latch written because the check could not
        # measure (no route yet at boot) would keep a healthy node out until someone clears it.
        if not result.ok and not result.remedy_pending and result.measured:
            summary += self.escalate(result, events)
        summary += self.tell(events, result)
        state.record_result(result.ok, summary)
        return result.ok, summary


def run_check(config: Config, spec: CheckSpec) -> int:
    """Run ``spec`` once and return kacheck's exit code (0 healthy, 1 unhealthy)."""
    runner = CheckRunner(config, spec)
    runner.prepare()
    if not runner.acquire():
        last = runner.load_state().last_result()
        if last is None:
            logger.warning(
                f"{spec.name}: FAIL: previous run still in progress and no earlier result"
            )
            return EXIT_FAILURE
        ok, summary, when = last
        verdict = "OK" if ok else "FAIL"
        age = time.time() - when
        logger.warning(
            f"{spec.name}: {verdict}: previous run still in progress; repeating its result from {age:.1f} s ago: {summary}"
        )
        return EXIT_OK if ok else EXIT_FAILURE
    try:
        state = runner.load_state()
        ok, summary = runner.run_once(state)
        try:
            state.save()
        except KakitError as exc:
            summary += f" (state not saved: {exc})"
        if ok:
            logger.info(f"{spec.name}: OK: {summary}")
        else:
            logger.warning(f"{spec.name}: FAIL: {summary}")
        return EXIT_OK if ok else EXIT_FAILURE
    finally:
        runner.release()
