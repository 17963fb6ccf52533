"""The entry-point skeleton every kakit process shares: argv -> config -> run -> exit code.

``kacheck``, ``kanotify`` and the delivery worker (and later ``kaprobe``) differ in their command
lines and in what they do once configured; everything around that is written here once:

1. name the process in the log (``ident``), answer ``-h/--help`` and ``--version``;
2. parse the arguments with the tool's own parser (hand-written: ``import click`` costs more
   than a whole ``kacheck`` run, docs/benchmarks.md);
3. load the configuration and point the logger at its sinks;
4. run, and turn a :class:`~kakit.exceptions.KakitError` into one log line (also written to
   stderr when stderr is not a terminal, since the logger only writes there on a terminal) and
   the exit code: 0 done/healthy, 1 failure, 2 usage or configuration error.

This module is on ``kacheck``'s every-second path: it imports nothing beyond ``sys`` and the
exception tree at module level.
"""

from __future__ import annotations

import sys

from kakit.exceptions import EXIT_FAILURE, EXIT_USAGE, KakitError, UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import TypeVar

    from kakit.config import Config

    Args = TypeVar("Args", bound="Arguments")


class Arguments:
    """What the skeleton reads from a tool's parsed command line; tools add their own fields.

    Attributes:
        config: The ``-c FILE`` given, or None for the default lookup.
        verbose: Log to stderr at debug level.
    """

    def __init__(self) -> None:
        self.config: str | None = None
        self.verbose = False


def option_value(option: str, items: list[str]) -> str:
    """The value after ``option``, taken from the rest of the command line ``items``.

    Raises:
        UsageError: Nothing follows the option.
    """
    if not items:
        raise UsageError(f"{option} needs a value")
    return items.pop(0)


def number_argument(
    option: str, text: str, kind: type[float] | type[int], low: float, high: float
) -> float:
    """A command-line number in ``[low, high]``.

    Raises:
        UsageError: Not a plain ASCII decimal, or out of range.
    """
    # Plain ASCII decimals only: Python's int() and float() also take "1_0", "+5", "٣", "nan"
    # and "inf", and an interval of nan makes a loop spin.
    digits = text.replace(".", "", 1) if kind is float else text
    if not (digits.isascii() and digits.isdigit()):
        raise UsageError(f"{option}: expected a number, got {text!r}")
    value = kind(text)
    if not low <= value <= high:
        raise UsageError(f"{option}: must be between {low:g} and {high:g}, got {text!r}")
    return value


def run_tool(
    argv: list[str],
    *,
    ident: str,
    usage: str,
    parse: Callable[[list[str]], Args],
    body: Callable[[Config, Args], int],
    log_prefix: str = "",
    log_arguments: bool = False,
) -> int:
    """Run one tool invocation and return its exit code; never raises a KakitError.

    Args:
        argv: The arguments, without the program name.
        ident: The tool's name in log lines and on stderr (``kacheck``, ``kanotify``...).
        usage: The text ``-h``/``--help`` prints.
        parse: The tool's argument parser; raises UsageError.
        body: What the tool does with its configuration and arguments; returns the exit code
            and raises KakitError for anything it cannot do.
        log_prefix: Put before the error in the log line (the worker's ``outbox: ``).
        log_arguments: Append the arguments to a usage error's log line: keepalived gives
            notify scripts /dev/null as stderr, so the log is the only place to see them.
    """
    from kakit.core.log import logger

    logger.configure(ident=ident)
    if "-h" in argv or "--help" in argv:
        sys.stdout.write(usage)
        return 0
    if "--version" in argv:
        from kakit import __version__

        sys.stdout.write(f"{ident} (kakit) {__version__}\n")
        return 0
    config_file: str | None = None
    try:
        args = parse(argv)
        config_file = args.config
        if args.verbose:
            logger.configure(stderr=True, level="debug")
        from kakit.config import load_config

        config = load_config(args.config)
        configure_logger(config, level=None if args.verbose else config.log.level)
        return body(config, args)
    except KakitError as exc:
        message = _naming_config(str(exc), config_file)
        line = f"{log_prefix}{message}"
        if log_arguments and isinstance(exc, UsageError):
            line += f" (arguments: {' '.join(argv) or 'none'})"
        logger.error(line)
        if logger.stderr is None:
            # Run by hand with stderr redirected (or by keepalived): still say why there.
            try:
                sys.stderr.write(f"{ident}: {message}\n")
            except (OSError, ValueError):
                pass
        return EXIT_USAGE if exc.exit_code == EXIT_USAGE else EXIT_FAILURE


def _naming_config(message: str, config_file: str | None) -> str:
    """``message`` with its ``kakit config check`` hint naming ``-c FILE`` when one was given:
    the check must read the same file, or it reports on another one."""
    hint = "run `kakit config check`"
    if not config_file or hint not in message:
        return message
    import os
    import shlex

    return message.replace(
        hint, f"run `kakit config check -c {shlex.quote(os.path.abspath(config_file))}`"
    )


def configure_logger(config: Config, *, level: str | None = None) -> None:
    """Point the process-wide logger at the configuration's sinks (``level``: None keeps it).

    The fallback file is named here, in the data directory, so that a line neither syslog nor
    ``log.file`` took still lands somewhere (:mod:`kakit.core.log`).
    """
    import os

    from kakit.core.log import FALLBACK_NAME, logger

    settings = config.log
    logger.configure(
        level=level,
        file=settings.file or "",
        syslog=settings.syslog,
        syslog_socket=settings.syslog_socket,
        fallback=os.path.join(config.paths.data_dir, FALLBACK_NAME),
    )
