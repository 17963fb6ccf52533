"""``kanotify``: keepalived's ``notify`` target, plus ``kanotify test CHANNEL``.

Forms (keepalived.md section 1)::

    notify "/usr/local/bin/kanotify -c /etc/kakit/kakit.yaml"
        -> kanotify -c FILE [configured words...] INSTANCE|GROUP NAME STATE PRIORITY
    notify_master "/usr/local/bin/kanotify MASTER --instance VI_1"
        -> kanotify MASTER [--instance NAME]     (keepalived appends nothing)
    kanotify test CHANNEL                        (a marked test alert, sent now)

Exit codes: 0 done, 1 a hook or the test send failed, 2 bad arguments or configuration
(nothing applied). keepalived ignores notify exit codes; the log line is what counts. The
command line is parsed by hand: click's import alone would eat half of the 150 ms budget.
"""

from __future__ import annotations

import sys

from kakit.exceptions import EXIT_USAGE, KakitError, UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from kakit.core.events import Kind

USAGE = """\
usage: kanotify [-c FILE] [WORDS...] INSTANCE|GROUP NAME STATE PRIORITY   (keepalived notify)
       kanotify [-c FILE] STATE [--instance NAME] [--group NAME]       (notify_master & co.)
       kanotify [-c FILE] test CHANNEL                                  (send a test alert)

STATE is MASTER, BACKUP, FAULT, STOP or DELETED. Hooks for the state are applied at once;
alerts go through the durable outbox (kakit outbox list).
"""


def _parse(argv: list[str]) -> tuple[str | None, list[str], str | None, Kind]:
    config = None
    name = None
    kind: Kind = "INSTANCE"
    words: list[str] = []
    items = list(argv)
    while items:
        item = items.pop(0)
        if item in ("-c", "--config", "--instance", "--group"):
            if not items:
                raise UsageError(f"{item} needs a value")
            value = items.pop(0)
            if item in ("-c", "--config"):
                config = value
            else:
                name = value
                kind = "GROUP" if item == "--group" else "INSTANCE"
        elif item == "--":
            words.extend(items)
            break
        else:
            words.append(item)
    return config, words, name, kind


def run(argv: list[str]) -> int:
    """Run kanotify with ``argv`` (without the program name); returns the exit code."""
    from kakit.core.log import logger

    logger.configure(ident="kanotify")
    if any(arg in ("-h", "--help") for arg in argv):
        sys.stdout.write(USAGE)
        return 0
    try:
        config_path, words, name, kind = _parse(argv)
        from kakit.config import load_config

        # The configuration is loaded before the event is read, so that even a malformed
        # command line is logged where the operator looks (keepalived gives us /dev/null).
        config = load_config(config_path)
        logger.configure(
            level=config.log.level, file=config.log.file or "", syslog=config.log.syslog
        )
        if words[:1] == ["test"]:
            if len(words) != 2:
                raise UsageError("usage: kanotify test CHANNEL")
            from kakit.kanotify.testsend import send_test

            return send_test(config, words[1])
        from kakit.core.events import STATES
        from kakit.kanotify.argv import parse_notify_args, state_only_event

        if len(words) == 1 and words[0].upper() in STATES:
            event = state_only_event(words[0], name, kind)
        else:
            if name is not None:
                raise UsageError(
                    "--instance/--group only go with the single-STATE form (notify_master & co.)"
                )
            event = parse_notify_args(words)
        from kakit.kanotify.handle import handle_event

        return handle_event(config, event)
    except KakitError as exc:
        logger.error(
            f"{exc} (arguments: {' '.join(argv) or 'none'})"
            if isinstance(exc, UsageError)
            else str(exc)
        )
        if logger.stderr is None:
            try:
                sys.stderr.write(f"kanotify: {exc}\n")
            except (OSError, ValueError):
                pass
        return EXIT_USAGE if exc.exit_code == EXIT_USAGE else 1


def main() -> int:
    """Console-script entry point."""
    return run(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
