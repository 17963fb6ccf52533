"""Running a named check once, as keepalived's ``vrrp_script`` does.

Order of one run: take the per-check lock (a copy still running answers with the last recorded
result instead of piling up: keepalived 2.1.3-2.3.2 starts overlapping copies), honour a latch,
run the probes in order, escalate a final failure, record the result, log one line.

That line is at info (warning for a failure) only when it tells something: the verdict changed,
the run restarted, gave up or escalated, or the heartbeat is due (``log.heartbeat``: "still OK for 2 h
(7200 runs)"). Every other run logs at debug: at an interval of 1 s a healthy check would
otherwise write 86 400 lines a day, and a failing one bury its own first line. The previous
verdict comes from the check's state file, which every run reads and writes anyway. A copy
that overlaps a running one (and answers with its last result) warns once per heartbeat too.
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
        #: Whether the last :meth:`run_once` restarted, gave up or escalated (never a debug line).
        self.acted = False

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
        ctx = RunContext(self.spec.name, state, deadline, self.config)
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
            done = f"; latched (clear with {self.clear_hint()})"
            events.append("latch")
        if spec.on_failure == "stop-keepalived":
            from kakit.kacheck.escalate import find_target, stop_target

            try:
                target, how = find_target()
            except CheckError as exc:
                # Nothing to stop: the alert says latched, never "keepalived stopped".
                return done + f"; could not stop keepalived: {exc}"
            events.append("escalate")
            done += self.tell(events, result)
            events.clear()
            # The log line goes out before the signal: keepalived kills our process group next.
            logger.error(f"{spec.name}: FAIL: {result.summary}{done}; stopping keepalived")
            try:
                done += f"; {stop_target(target, how)}"
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

    def overlap_news(self) -> bool:
        """Whether an overlapping run should say so at warning (else debug); see the module doc.

        The copy that finds the lock taken cannot write the state file (the running copy owns
        it), so the time of the last warning is the mtime of a marker file beside it: one
        warning per heartbeat while runs keep overlapping, not one per second.
        """
        marker = f"{self._state_path}.overlap"
        flags = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
        try:
            # O_EXCL: of a burst of overlapping copies, only the one that creates it warns.
            os.close(os.open(marker, flags | os.O_EXCL, 0o600))
            return True
        except FileExistsError:
            pass
        except OSError:
            return True  # no marker: the next overlap warns again, which is the safe side
        heartbeat = self.config.log.heartbeat
        try:
            quiet = time.time() - os.stat(marker).st_mtime
        except OSError:
            quiet = float("inf")
        if heartbeat > 0 and 0 <= quiet < heartbeat:
            return False
        try:
            os.utime(marker)
        except OSError:
            pass
        return True

    def clear_hint(self) -> str:
        """The command that clears this check's latch, as the operator should type it.

        It names the configuration with ``-c`` unless that is the default one: a check run
        with ``-c FILE`` (or ``$KAKIT_CONFIG``) keeps its latches in that file's data directory,
        which a bare ``kakit latch clear`` would not look in.
        """
        from kakit.config import DEFAULT_CONFIG_PATH

        source = self.config.source
        option = ""
        if source is not None and os.path.abspath(source) != DEFAULT_CONFIG_PATH:
            option = f"-c {_shell_word(os.path.abspath(source))} "
        return f"`kakit latch clear {option}{_shell_word(self.spec.name)}`"

    def run_once(self, state: CheckState) -> tuple[bool, str]:
        """One full run under the lock already held: latch, probes, escalation, alert, record."""
        spec = self.spec
        self.acted = False
        latch = latches.get(self.config.paths.data_dir, spec.name)
        if latch is not None:
            summary = f"{latch.describe()} (clear with {self.clear_hint()})"
            state.record_result(False, summary)
            return False, summary
        restarted_before, was_pending = state.last_restart(), state.last_pending()
        result = self.evaluate(state)
        summary = result.summary
        events: list[str] = []
        # "gave_up" (kakit.kacheck.alerting.GAVE_UP): a give-up was alerted; a healthy run
        # clears it. Checked here so that a run with nothing to say imports nothing.
        if result.events or "gave_up" in state.data:
            from kakit.kacheck.alerting import unannounced

            events = unannounced(state, result)
        done = ""
        final = not result.ok and not result.remedy_pending
        # Only an observed failure escalates: a latch written because the check could not
        # measure (no route yet at boot) would keep a healthy node out until someone clears it.
        if final and result.measured:
            done = self.escalate(result, events)
            summary += done
        told = self.tell(events, result)
        summary += told
        # Worth a line whatever the verdict: a restart, an escalation, an alert, or giving up (a
        # failure that had a remedy pending and now has none: "restart budget spent").
        self.acted = (
            bool(done or told)
            or state.last_restart() != restarted_before
            or (final and was_pending)
        )
        state.record_result(result.ok, summary, pending=not result.ok and result.remedy_pending)
        return result.ok, summary

    def note_verdict(self, state: CheckState, ok: bool) -> Verdict:
        """Count a verdict into the check's streak (state saved by the caller); see :meth:`log`.

        Args:
            state: The check's state, where the streak is kept.
            ok: The verdict (watch mode: after rise/fall).
        """
        now = time.time()
        kind, since, runs = state.note_verdict(ok, now, self.config.log.heartbeat)
        if kind == "repeat" and self.acted:
            state.mark_logged(now)
        return Verdict(ok, kind, now - since, runs)

    def log(self, verdict: Verdict, summary: str, suffix: str = "") -> None:
        """Log one run at the level it deserves (module doc).

        Args:
            verdict: What :meth:`note_verdict` made of the run.
            summary: What the run saw and did.
            suffix: Appended to the line (watch mode: the track file written).
        """
        name, word = self.spec.name, "OK" if verdict.ok else "FAIL"
        loud = logger.info if verdict.ok else logger.warning
        if verdict.kind == "change":
            was = ""
            if verdict.runs:
                other = "FAIL" if verdict.ok else "OK"
                was = f" (was {other} for {_age(verdict.age)}, {_runs(verdict.runs)})"
            loud(f"{name}: {word}: {summary}{was}{suffix}")
        elif verdict.kind == "heartbeat":
            loud(
                f"{name}: still {word} for {_age(verdict.age)} ({_runs(verdict.runs)}): {summary}{suffix}"
            )
        elif self.acted:
            loud(f"{name}: {word}: {summary}{suffix}")
        else:
            # A person at a terminal asked for this run: they see its verdict whatever it is.
            quiet = logger.debug if logger.stderr is None else loud
            quiet(f"{name}: {word}: {summary}{suffix}")


class Verdict:
    """A run's verdict as the log sees it (:meth:`CheckRunner.note_verdict`).

    Attributes:
        ok: The verdict.
        kind: ``change``, ``heartbeat`` or ``repeat`` (:meth:`CheckState.note_verdict`).
        age: For a change, how long the previous verdict held; else how long this one has.
        runs: The runs of that same streak.
    """

    __slots__ = ("age", "kind", "ok", "runs")

    def __init__(self, ok: bool, kind: str, age: float, runs: int) -> None:
        self.ok = ok
        self.kind = kind
        self.age = age
        self.runs = runs


def _age(seconds: float) -> str:
    """``45 s``, ``12 min``, ``2 h 5 min``, ``3 d 4 h``: how long a verdict has held."""
    seconds = max(0.0, seconds)
    if seconds < 120:
        return f"{seconds:.0f} s"
    minutes = int(seconds // 60)
    if minutes < 120:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def _runs(count: int) -> str:
    return "1 run" if count == 1 else f"{count} runs"


def _shell_word(word: str) -> str:
    """``word`` quoted for a POSIX shell when it needs it (``shlex.quote``, without its import)."""
    if word and all(char.isalnum() or char in "@%+=:,./-_" for char in word):
        return word
    return "'" + word.replace("'", "'\"'\"'") + "'"


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
        log = logger.warning if runner.overlap_news() else logger.debug
        log(
            f"{spec.name}: {verdict}: previous run still in progress; repeating its result from {age:.1f} s ago: {summary}"
        )
        return EXIT_OK if ok else EXIT_FAILURE
    try:
        state = runner.load_state()
        ok, summary = runner.run_once(state)
        noted = runner.note_verdict(state, ok)  # before the save, which stores the streak
        try:
            state.save()
        except KakitError as exc:
            # Every run then looks like a change and logs at info: the failure stays visible.
            summary += f" (state not saved: {exc})"
        runner.log(noted, summary)
        return EXIT_OK if ok else EXIT_FAILURE
    finally:
        runner.release()
