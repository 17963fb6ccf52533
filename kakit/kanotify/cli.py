"""``kanotify``: keepalived's ``notify`` target, plus ``kanotify test CHANNEL``.

Forms (docs/kanotify.md)::

    notify "/usr/local/bin/kanotify -c /etc/kakit/kakit.yaml"
        -> kanotify -c FILE [configured words...] INSTANCE|GROUP NAME STATE PRIORITY
    notify_master "/usr/local/bin/kanotify MASTER --instance VI_1"
        -> kanotify MASTER [--instance NAME]     (keepalived appends nothing)
    kanotify test CHANNEL                        (a marked test alert, sent now)
    notify_fifo_script "/usr/local/bin/kanotify -c /etc/kakit/kakit.yaml --fifo"
        -> kanotify -c FILE --fifo FIFO          (the resident FIFO reader; also a service)

Exit codes: 0 done, 1 a hook or the test send failed, 2 bad arguments or configuration
(nothing applied). keepalived ignores notify exit codes; the log line is what counts. The
command line is parsed by hand: click's import alone would eat half of the 150 ms budget.
"""

from __future__ import annotations

import sys

from kakit.core.entry import Arguments as BaseArguments
from kakit.core.entry import number_argument, option_value, run_tool
from kakit.exceptions import UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from kakit.config import Config
    from kakit.core.events import Kind

USAGE = """\
usage: kanotify [-c FILE] [WORDS...] INSTANCE|GROUP NAME STATE PRIORITY   (keepalived notify)
       kanotify [-c FILE] STATE [--instance NAME] [--group NAME]       (notify_master & co.)
       kanotify [-c FILE] test CHANNEL                                  (send a test alert)
       kanotify [-c FILE] --fifo [--reconcile SECONDS] [PATH]
                                      (read keepalived's notify FIFO until SIGTERM)

STATE is MASTER, BACKUP, FAULT, STOP or DELETED. Hooks for the state are applied at once;
alerts go through the durable outbox (kakit outbox list).
"""


class Arguments(BaseArguments):
    """The parsed command line: options, then the words keepalived (or the operator) gave."""

    def __init__(self) -> None:
        super().__init__()
        self.words: list[str] = []
        self.name: str | None = None
        self.kind: Kind = "INSTANCE"
        self.fifo = False
        self.reconcile: float | None = None


TAKES_VALUE = ("-c", "--config", "--instance", "--group", "--reconcile")


def _keepalived_tail(items: list[str]) -> bool:
    """Whether the last four words are keepalived's ``INSTANCE|GROUP NAME STATE PRIORITY``."""
    if len(items) < 4 or items[-4] not in ("INSTANCE", "GROUP"):
        return False
    return len(items) == 4 or items[-5] not in TAKES_VALUE  # "-c INSTANCE": a file named so


def parse_args(argv: list[str]) -> Arguments:
    """Split kanotify's options from the event words (read later, once logging is set up).

    Raises:
        UsageError: An option is missing its value.
    """
    args = Arguments()
    items = list(argv)
    # keepalived appends INSTANCE|GROUP NAME STATE PRIORITY to the configured words: those four
    # are data, never options (an instance may be called "-c"), so they are set aside first.
    tail: list[str] = []
    if _keepalived_tail(items):
        items, tail = items[:-4], items[-4:]
    while items:
        item = items.pop(0)
        if item in TAKES_VALUE:
            value = option_value(item, items)
            if item in ("-c", "--config"):
                args.config = value
            elif item == "--reconcile":
                args.reconcile = number_argument(item, value, float, 0.1, 86400.0)
            else:
                args.name = value
                args.kind = "GROUP" if item == "--group" else "INSTANCE"
        elif item == "--":
            args.words.extend(items)
            break
        elif item == "--fifo":
            args.fifo = True
        else:
            args.words.append(item)
    args.words.extend(tail)
    return args


def _run(config: Config, args: Arguments) -> int:
    words = args.words
    if args.reconcile is not None and not args.fifo:
        raise UsageError("--reconcile goes with --fifo")
    if args.fifo:
        # keepalived appends the FIFO's path to notify_fifo_script's words; a service names it.
        if len(words) > 1 or args.name is not None:
            raise UsageError("usage: kanotify [-c FILE] --fifo [--reconcile SECONDS] [PATH]")
        from kakit.config.trust import refuse_unsafe_programs
        from kakit.kanotify.resident import read_fifo

        refuse_unsafe_programs(config)
        return read_fifo(config, words[0] if words else None, reconcile_every=args.reconcile)
    if words[:1] == ["test"]:
        if len(words) != 2:
            raise UsageError("usage: kanotify test CHANNEL")
        from kakit.kanotify.testsend import send_test

        return send_test(config, words[1])
    from kakit.core.events import STATES
    from kakit.kanotify.argv import parse_notify_args, state_only_event

    if len(words) == 1 and words[0].upper() in STATES:
        event = state_only_event(words[0], args.name, args.kind)
    else:
        if args.name is not None:
            raise UsageError(
                "--instance/--group only go with the single-STATE form (notify_master & co.)"
            )
        event = parse_notify_args(words)
    from kakit.config.trust import refuse_unsafe_programs
    from kakit.kanotify.handle import handle_event
    from kakit.kanotify.reconcile import cross_check

    # Before anything is applied or recorded: exit 2 leaves the node as it was.
    refuse_unsafe_programs(config)
    code = handle_event(config, event)
    # The same cross-check as the FIFO reader's reconcile: the kernel's addresses win.
    cross_check(config, event)
    return code


def run(argv: list[str]) -> int:
    """Run kanotify with ``argv`` (without the program name); returns the exit code."""
    return run_tool(
        argv, ident="kanotify", usage=USAGE, parse=parse_args, body=_run, log_arguments=True
    )


def main() -> int:
    """Console-script entry point."""
    return run(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
