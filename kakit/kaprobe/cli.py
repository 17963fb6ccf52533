"""``kaprobe``: run BFD sessions, or print their status.

The command line is parsed by hand, like kacheck's, with strict numbers and durations (``50ms``,
``1s``, ``250us``).
"""

from __future__ import annotations

import sys

from kakit.core.entry import Arguments as BaseArguments
from kakit.core.entry import number_argument, option_value, run_tool
from kakit.exceptions import EXIT_OK, UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from kakit.config import Config

USAGE = """\
usage: kaprobe [-c FILE] [-v] --peer ADDRESS --local ADDRESS [--interval DURATION]
               [--multiplier N] [--track-file PATH] [--up-value N] [--down-value N]
               [--passive] [--realtime] [--admin-down-on-exit]
       kaprobe [-c FILE] [-v] [--realtime] [--admin-down-on-exit]   (the probes: section)
       kaprobe [-c FILE] status [--json]

Run a BFD session (RFC 5880 asynchronous mode, RFC 5881 single hop) with ADDRESS and keep a
keepalived track_file: the up value while the session is Up, the down value otherwise.
Without --peer, run every session of the configuration's probes: section.

options:
  -c, --config FILE       configuration file (default $KAKIT_CONFIG, then /etc/kakit/kakit.yaml)
  -v, --verbose           also log to stderr, at debug level
  --peer ADDRESS          the BFD peer (IPv4 or IPv6)
  --local ADDRESS         our address on the link to the peer
  --interval DURATION     desired TX and required RX once Up: 50ms (default), 1s, 300us...
  --multiplier N          detect multiplier, 1-255 (default 3)
  --track-file PATH       keepalived track_file to maintain
  --up-value N            written while Up (default 0)
  --down-value N          written while not Up (default -254: FAULT with weight 0 or 1)
  --passive               send nothing until the peer is heard
  --realtime              run SCHED_FIFO when permitted (needs CAP_SYS_NICE)
  --admin-down-on-exit    on SIGTERM send AdminDown (keepalived then does not fail over)
  -h, --help              show this help
  --version               show the version
"""

_UNITS = (("us", 1), ("ms", 1000), ("s", 1_000_000))
MIN_INTERVAL_US = 1000
MAX_INTERVAL_US = 60_000_000


class Arguments(BaseArguments):
    """The parsed command line."""

    def __init__(self) -> None:
        super().__init__()
        self.command = "run"
        self.json = False
        self.peer: str | None = None
        self.local: str | None = None
        self.interval = 50_000
        self.multiplier = 3
        self.track_file: str | None = None
        self.up_value: int | None = None
        self.down_value: int | None = None
        self.passive = False
        self.realtime = False
        self.admin_down_on_exit = False


def duration_argument(option: str, text: str) -> int:
    """A duration with its unit (``50ms``, ``1s``, ``250us``, ``0.5s``) in microseconds.

    Raises:
        UsageError: No unit, not a plain decimal, or outside 1 ms..60 s.
    """
    for suffix, scale in sorted(_UNITS, key=lambda unit: -len(unit[0])):
        if text.endswith(suffix):
            number = number_argument(option, text[: -len(suffix)], float, 0, 1e12)
            value = round(number * scale)
            if not MIN_INTERVAL_US <= value <= MAX_INTERVAL_US:
                raise UsageError(f"{option}: must be between 1ms and 60s, got {text!r}")
            return value
    raise UsageError(f"{option}: expected a duration with a unit (50ms, 1s), got {text!r}")


def _integer(option: str, text: str, low: int, high: int) -> int:
    negative = text.startswith("-")
    value = int(number_argument(option, text[1:] if negative else text, int, 0, max(-low, high)))
    value = -value if negative else value
    if not low <= value <= high:
        raise UsageError(f"{option}: must be between {low} and {high}, got {text!r}")
    return value


def _address(option: str, text: str) -> str:
    from kakit.kaprobe.runtime import normalise_address

    try:
        return normalise_address(text)
    except ValueError:
        raise UsageError(f"{option}: not an IP address: {text!r}") from None


def parse_args(argv: list[str]) -> Arguments:
    """Parse kaprobe's arguments.

    Raises:
        UsageError: Unknown option, missing or malformed value, or a missing --peer/--local.
    """
    args = Arguments()
    items = list(argv)
    with_value = {
        "-c",
        "--config",
        "--peer",
        "--local",
        "--interval",
        "--multiplier",
        "--track-file",
        "--up-value",
        "--down-value",
    }
    while items:
        item = items.pop(0)
        if item.startswith("--") and "=" in item:
            item, value = item.split("=", 1)
            items.insert(0, value)
        if item in with_value:
            value = option_value(item, items)
            if item in ("-c", "--config"):
                args.config = value
            elif item == "--peer":
                args.peer = _address(item, value)
            elif item == "--local":
                args.local = _address(item, value)
            elif item == "--interval":
                args.interval = duration_argument(item, value)
            elif item == "--multiplier":
                args.multiplier = _integer(item, value, 1, 255)
            elif item == "--track-file":
                if not value.startswith("/"):
                    raise UsageError(f"--track-file must be an absolute path, got {value!r}")
                args.track_file = value
            elif item == "--up-value":
                args.up_value = _integer(item, value, -(2**31), 2**31 - 1)
            else:
                args.down_value = _integer(item, value, -(2**31), 2**31 - 1)
        elif item in ("-v", "--verbose"):
            args.verbose = True
        elif item == "--passive":
            args.passive = True
        elif item == "--realtime":
            args.realtime = True
        elif item == "--admin-down-on-exit":
            args.admin_down_on_exit = True
        elif item == "--json":
            args.json = True
        elif item == "status" and args.command == "run":
            args.command = "status"
        else:
            raise UsageError(f"unknown argument {item!r} (see kaprobe --help)")
    if args.command == "status":
        return args
    if (args.peer is None) != (args.local is None):
        raise UsageError("--peer ADDRESS and --local ADDRESS go together (see kaprobe --help)")
    if (
        args.peer is not None
        and args.local is not None
        and (":" in args.peer) != (":" in args.local)
    ):
        raise UsageError("--peer and --local must be of the same address family")
    return args


def _run(config: Config, args: Arguments) -> int:
    from kakit.kaprobe.status import status_path

    path = status_path(config.paths.state_dir)
    if args.command == "status":
        from kakit.kaprobe.status import read_status, render

        status = read_status(path)
        if args.json:
            from kakit.core.smalljson import dumps

            sys.stdout.write(dumps(status) + "\n")
        else:
            sys.stdout.write(render(status))
        return EXIT_OK
    import asyncio
    import os

    from kakit.core.fsutil import ensure_dir
    from kakit.kaprobe.runtime import run_prober, set_realtime
    from kakit.kaprobe.spec import DEFAULT_DOWN_VALUE, DEFAULT_UP_VALUE, ProbeSpec

    if args.peer is not None and args.local is not None:
        specs = [
            ProbeSpec(
                peer=args.peer,
                local=args.local,
                interval=args.interval / 1_000_000,
                multiplier=args.multiplier,
                track_file=args.track_file,
                up_value=DEFAULT_UP_VALUE if args.up_value is None else args.up_value,
                down_value=DEFAULT_DOWN_VALUE if args.down_value is None else args.down_value,
                passive=args.passive,
            )
        ]
    elif config.probes:
        specs = list(config.probes)
    else:
        raise UsageError("no session: give --peer and --local, or a probes: section")
    ensure_dir(os.path.dirname(path))
    if args.realtime:
        set_realtime()
    if config.alerts and config.channels:
        ensure_dir(config.paths.data_dir, 0o755)  # the outbox and the delivery lock live there
    asyncio.run(
        run_prober(
            specs,
            status_path=path,
            admin_down_on_exit=args.admin_down_on_exit,
            config=config,
        )
    )
    return EXIT_OK


def run(argv: list[str]) -> int:
    """Run kaprobe with ``argv`` (without the program name); returns the exit code."""
    return run_tool(argv, ident="kaprobe", usage=USAGE, parse=parse_args, body=_run)


def main() -> int:
    """Console-script entry point."""
    return run(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
