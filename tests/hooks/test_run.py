"""The run hook: programs without a shell, the event in KAKIT_* variables, bounded in time."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest

from kakit.core import programs
from kakit.core.events import StateEvent
from kakit.exceptions import HookError
from kakit.hooks.base import HookOutcome, StateChange
from kakit.hooks.run import RunHook, RunOptions, event_environment
from kakit.hooks.spec import HookSettings
from tests.hooks.sections import refusal

# Writes what the program received (argv, KAKIT_* env, session, stdin) to the file in argv[1].
RECORDER = """\
import json, os, sys
record = {
    "argv": sys.argv,
    "env": {k: v for k, v in os.environ.items() if k.startswith("KAKIT_")},
    "path": os.environ.get("PATH"),
    "names": sorted(os.environ),
    "own_session": os.getsid(0) == os.getpid(),
    "stdin": os.path.realpath("/proc/self/fd/0"),
}
with open(sys.argv[1], "w") as out:
    json.dump(record, out)
"""

# (kakit.yaml text, exact ConfigError message)
OPTION_ERRORS = [
    pytest.param(
        "states:\n  MASTER:\n    run: [/usr/local/bin/promote-db, --fast]\n",
        "kakit.yaml:3: states.MASTER.run[1]: expected a command as a list of words whose program is an absolute path, such as [/usr/local/bin/promote-db, --fast], got '--fast'",
        id="run-flat-list",
    ),
    pytest.param(
        "states:\n  MASTER:\n    run: [[promote-db]]\n",
        "kakit.yaml:3: states.MASTER.run[0]: expected a command as a list of words whose program is an absolute path, such as [/usr/local/bin/promote-db, --fast], got ['promote-db']",
        id="run-relative-program",
    ),
    pytest.param(
        'states:\n  MASTER:\n    run: [[/bin/echo, "a\\0b"]]\n',
        "kakit.yaml:3: states.MASTER.run[0]: expected a command without NUL characters, got ['/bin/echo', 'a\\x00b']",
        id="run-nul",
    ),
]

HOSTILE_NAME = "VI_1; touch /tmp/pwned $(id)"


def run_hook(commands: tuple[tuple[str, ...], ...], timeout: float) -> RunHook:
    """A run hook for ``commands``, each allowed ``timeout`` seconds."""
    return RunHook(RunOptions(run=commands), HookSettings(run_timeout=timeout))


def make_change(name: str = "VI_1", previous: str | None = "BACKUP") -> StateChange:
    """A MASTER event for ``name`` received at a fixed time."""
    event = StateEvent(kind="INSTANCE", name=name, state="MASTER", priority=150, time=1700000000.25)
    return StateChange(event=event, previous=previous, node="lb1")


def gone(pid: int) -> bool:
    """True when ``pid`` no longer exists (or is a zombie waiting for its reaper)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return True
    return fields[0] == "Z"


class TestEventEnvironment:
    """`event_environment`: the variables a run program gets."""

    def test_variables(self) -> None:
        """Every event field becomes one KAKIT_* variable, as text."""
        assert event_environment(make_change()) == {
            "KAKIT_NODE": "lb1",
            "KAKIT_KIND": "INSTANCE",
            "KAKIT_NAME": "VI_1",
            "KAKIT_STATE": "MASTER",
            "KAKIT_PREVIOUS": "BACKUP",
            "KAKIT_PRIORITY": "150",
            "KAKIT_TIME": "1700000000.250000",
        }

    def test_unknown_previous(self) -> None:
        """An unknown previous state is passed as an empty variable."""
        assert event_environment(make_change(previous=None))["KAKIT_PREVIOUS"] == ""


class TestRunHook:
    """`RunHook` runs each command for real."""

    def test_event_only_in_environment(self, tmp_path: Path) -> None:
        """The program gets the event in KAKIT_* variables and exactly its configured argv."""
        out = tmp_path / "record.json"
        command = (sys.executable, "-c", RECORDER, str(out), "--fast")
        outcome = run_hook((command,), timeout=30)(make_change(name=HOSTILE_NAME))
        assert outcome == HookOutcome(hook="run", summary=f"run: `{' '.join(command)}` exited 0")
        record = json.loads(out.read_text())
        assert record["argv"] == ["-c", str(out), "--fast"]
        assert record["env"] == {
            "KAKIT_NODE": "lb1",
            "KAKIT_KIND": "INSTANCE",
            "KAKIT_NAME": HOSTILE_NAME,
            "KAKIT_STATE": "MASTER",
            "KAKIT_PREVIOUS": "BACKUP",
            "KAKIT_PRIORITY": "150",
            "KAKIT_TIME": "1700000000.250000",
        }
        assert record["path"] == ":".join(programs.SYSTEM_DIRS)
        assert not Path("/tmp/pwned").exists()

    def test_no_secret_reaches_the_program(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """kakit's environment ({env:} secrets, LD_PRELOAD) is not passed on; run_pass_env is."""
        monkeypatch.setenv("KAKIT_DING_SECRET", "SEC-0123456789")
        monkeypatch.setenv("LD_PRELOAD", "")
        monkeypatch.setenv("HTTP_PROXY", "http://10.213.0.9:3128")
        out = tmp_path / "record.json"
        command = (sys.executable, "-c", RECORDER, str(out))
        hook = RunHook(
            RunOptions(run=(command,)), HookSettings(run_timeout=30, run_pass_env=("HTTP_PROXY",))
        )
        hook(make_change())
        names = set(json.loads(out.read_text())["names"])
        assert "HTTP_PROXY" in names
        assert not names & {"KAKIT_DING_SECRET", "LD_PRELOAD", "KAKIT_CONFIG_CACHE", "HOME"}

    def test_own_session_and_null_stdin(self, tmp_path: Path) -> None:
        """The program runs in its own session with stdin on /dev/null."""
        out = tmp_path / "record.json"
        run_hook(((sys.executable, "-c", RECORDER, str(out)),), timeout=30)(make_change())
        record = json.loads(out.read_text())
        assert record["own_session"] is True
        assert record["stdin"] == "/dev/null"

    def test_commands_in_order(self, tmp_path: Path) -> None:
        """Several commands run one after the other and are summarized together."""
        log = tmp_path / "order"
        commands = tuple(
            ("/bin/sh", "-c", f'echo {word} >> "$1"', "sh", str(log)) for word in ("one", "two")
        )
        assert run_hook(commands, timeout=30)(make_change()).summary == "run: 2 commands exited 0"
        assert log.read_text() == "one\ntwo\n"

    def test_nonzero_exit(self, tmp_path: Path) -> None:
        """A non-zero exit raises HookError with the status and the first stderr line; later commands do not run."""
        marker = tmp_path / "second-ran"
        commands = (
            ("/bin/sh", "-c", "echo 'replica is ahead' >&2; echo more >&2; exit 3"),
            ("/bin/sh", "-c", f"touch {marker}"),
        )
        with pytest.raises(HookError) as caught:
            run_hook(commands, timeout=30)(make_change())
        assert str(caught.value) == (
            "run: `/bin/sh -c echo 'replica is ahead' >&2; echo more >&2; exit 3` "
            "exited 3: replica is ahead (1 later command not run)"
        )
        assert not marker.exists()

    def test_killed_by_signal(self) -> None:
        """A program ending on a signal is reported with the signal number."""
        with pytest.raises(HookError) as caught:
            run_hook((("/bin/sh", "-c", "kill -TERM $$"),), timeout=30)(make_change())
        assert str(caught.value) == "run: `/bin/sh -c kill -TERM $$` killed by signal 15"

    def test_missing_program(self) -> None:
        """A program that does not exist is a HookError saying it could not be run."""
        with pytest.raises(HookError) as caught:
            run_hook((("/nonexistent/promote-db",),), timeout=30)(make_change())
        assert str(caught.value) == (
            "run: `/nonexistent/promote-db` cannot run /nonexistent/promote-db: "
            "No such file or directory"
        )

    def test_timeout_kills_process_group(self, tmp_path: Path) -> None:
        """On timeout the program and what it started in its group are killed, and HookError says so."""
        pid_file = tmp_path / "child.pid"
        script = f"sleep 300 & echo $! > {pid_file}; wait"
        with pytest.raises(HookError) as caught:
            run_hook((("/bin/sh", "-c", script),), timeout=0.5)(make_change())
        assert str(caught.value) == (
            f"run: `/bin/sh -c {script}` timed out after 0.5 s (process group killed)"
        )
        background = int(pid_file.read_text())
        deadline = time.monotonic() + 10
        while not gone(background) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert gone(background)

    def test_daemon_holding_stderr_does_not_block(self, tmp_path: Path) -> None:
        """A program that leaves a daemon holding its stderr still completes when it exits."""
        pid_file = tmp_path / "daemon.pid"
        script = f"setsid sleep 300 & echo $! > {pid_file}; echo started >&2; exit 0"
        try:
            outcome = run_hook((("/bin/sh", "-c", script),), timeout=30)(make_change())
            assert outcome.ok
        finally:
            if pid_file.exists():
                os.kill(int(pid_file.read_text()), 9)


class TestRunOptions:
    """`RunOptions`: commands as word lists with an absolute program."""

    @pytest.mark.parametrize(("body", "message"), OPTION_ERRORS)
    def test_message(self, body: str, message: str) -> None:
        """Each invalid ``run`` value is refused at load time with exactly this message."""
        assert refusal(body) == message
