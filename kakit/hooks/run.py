"""``run``: programs to execute on entering a state, without a shell.

The event reaches the program only through ``KAKIT_*`` environment variables, never through its
command line: an instance name is data keepalived got from a config file, and splicing it into
argv (or a shell string) is how notify scripts get injected. Each program runs in its own
session with stdin and stdout on ``/dev/null``; on timeout its whole process group is killed,
so a daemon it forked cannot outlive the hook unnoticed. stderr goes to an anonymous memory
file rather than a pipe, so a daemon that keeps the descriptor cannot stall the hook.
"""

from __future__ import annotations

from kakit.core.converters import Node, argv, list_of
from kakit.core.record import frozen, option
from kakit.exceptions import HookError
from kakit.hooks.base import HookOutcome, StateChange

TYPE_CHECKING = False
if TYPE_CHECKING:
    from kakit.hooks.spec import HookSettings


def command(node: Node) -> tuple[str, ...]:
    """A command run without a shell, whose program is an absolute path.

    keepalived gives notify scripts a bare environment (often no useful ``PATH``), and
    requiring ``/`` also catches ``run: [/x, --fast]``, which would otherwise be two commands.
    """
    words = argv(node)
    if any("\x00" in word for word in words):
        raise node.error("a command without NUL characters")
    if not words[0].startswith("/"):
        raise node.error(
            "a command as a list of words whose program is an absolute path, "
            "such as [/usr/local/bin/promote-db, --fast]"
        )
    return words


@frozen
class RunOptions:
    """The ``run`` key of a state.

    Attributes:
        run: Commands run one after the other, each within ``hooks.run_timeout``.
    """

    run: tuple[tuple[str, ...], ...] = option(list_of(command))


def event_environment(change: StateChange) -> dict[str, str]:
    """The ``KAKIT_*`` variables describing ``change``.

    ``KAKIT_TIME`` is the Unix time at which kakit received the event (``1700000000.123456``);
    ``KAKIT_PREVIOUS`` is empty when the previous state is unknown, ``KAKIT_PRIORITY`` is -1
    when keepalived did not say (``notify_master`` & co.).
    """
    event = change.event
    return {
        "KAKIT_NODE": change.node,
        "KAKIT_KIND": event.kind,
        "KAKIT_NAME": event.name,
        "KAKIT_STATE": event.state,
        "KAKIT_PREVIOUS": change.previous or "",
        "KAKIT_PRIORITY": str(event.priority),
        "KAKIT_TIME": f"{event.time:.6f}",
    }


def run_program(
    command: tuple[str, ...], env: dict[str, str], timeout: float
) -> tuple[int | None, str]:
    """Run one program of the hook (see :func:`kakit.core.programs.run_bounded`)."""
    from kakit.core.programs import run_bounded

    return run_bounded(command, timeout, env)


class RunHook:
    """Run commands one after the other; the first failure stops the rest.

    A later command may depend on an earlier one (promote the database, then start the
    service), so after a failure the remaining commands are not run and the error says so.

    Args:
        options: The state's commands, each with an absolute program path.
        settings: The ``hooks`` section: ``run_timeout`` is how long each command may take.
    """

    name = "run"
    options_class = RunOptions

    def __init__(self, options: RunOptions, settings: HookSettings) -> None:
        self.commands = options.run
        self.timeout = settings.run_timeout
        self.pass_env = settings.run_pass_env

    def __call__(self, change: StateChange) -> HookOutcome:
        """Run every command with the event in its environment.

        Raises:
            HookError: A command could not start, exited non-zero, was killed or timed out.
        """
        import os

        from kakit.core.programs import child_environment

        # Only what the configuration passes on explicitly: kakit's own environment may hold
        # {env: ...} secrets of the alert channels.
        passed = {name: os.environ[name] for name in self.pass_env if name in os.environ}
        env = child_environment({**passed, **event_environment(change)})
        for index, command in enumerate(self.commands):
            status, error = run_program(command, env, self.timeout)
            if status == 0:
                continue
            label = " ".join(command)
            if status is None:
                what = error
            elif status < 0:
                what = f"killed by signal {-status}" + (f": {error}" if error else "")
            else:
                what = f"exited {status}" + (f": {error}" if error else "")
            left = len(self.commands) - index - 1
            skipped = f" ({left} later command{'s' if left != 1 else ''} not run)" if left else ""
            raise HookError(f"run: `{label}` {what}{skipped}")
        count = len(self.commands)
        if count == 1:
            return HookOutcome(
                hook=self.name, summary=f"run: `{' '.join(self.commands[0])}` exited 0"
            )
        return HookOutcome(hook=self.name, summary=f"run: {count} commands exited 0")
