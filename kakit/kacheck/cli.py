"""``kacheck``: the keepalived ``vrrp_script`` / ``track_script`` target.

Exit codes: 0 healthy, 1 unhealthy, 2 usage or configuration error. keepalived treats every
non-zero exit as a failure, so a configuration error also fails the check: validate with
``kakit config check`` before deploying.

The command line is parsed by hand rather than with click: keepalived forks this every interval
and ``import click`` alone costs more than the rest of a run (docs/benchmarks.md).
"""

from __future__ import annotations

import sys

from kakit.core.entry import Arguments as BaseArguments
from kakit.core.entry import number_argument as _number
from kakit.core.entry import option_value, run_tool
from kakit.exceptions import UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from kakit.config import Config

USAGE = """\
usage: kacheck [-c FILE] [-v] NAME [PATH]
       kacheck [-c FILE] [-v] --watch NAME --track-file PATH [--interval SECONDS]
               [--fail-value N] [--fail-on-exit] [--cycles N]

Run the check NAME once and exit 0 (healthy), 1 (unhealthy) or 2 (usage/config error).
NAME is a check from the configuration or a built-in preset: nginx, httpd, apache2, flag,
gateway. PATH overrides the file of a flag/file check (kacheck flag /etc/keepalived/down).

options:
  -c, --config FILE      configuration file (default $KAKIT_CONFIG, then /etc/kakit/kakit.yaml)
  -v, --verbose          also log to stderr, at debug level
  --watch                keep running; write keepalived's track file on every change
  --track-file PATH      the track file to maintain (watch mode)
  --interval SECONDS     seconds between checks in watch mode (default 1)
  --fail-value N         number written while failing (default 1; 0 while healthy)
  --fail-on-exit         write the fail value when the watcher stops
  --cycles N             stop after N checks (watch mode; for tests and benchmarks)
  -h, --help             show this help
  --version              show the version
"""


class Arguments(BaseArguments):
    """The parsed command line."""

    def __init__(self) -> None:
        super().__init__()
        self.watch = False
        self.track_file: str | None = None
        self.interval = 1.0
        self.fail_value = 1
        self.fail_on_exit = False
        self.cycles: int | None = None
        self.positional: list[str] = []


def parse_args(argv: list[str]) -> Arguments:
    """Parse kacheck's arguments.

    Raises:
        UsageError: Unknown option, missing value or wrong number of arguments.
    """
    args = Arguments()
    items = list(argv)
    needs_value = {"-c", "--config", "--track-file", "--interval", "--fail-value", "--cycles"}
    while items:
        item = items.pop(0)
        if item == "--":
            args.positional.extend(items)
            break
        if item.startswith("--") and "=" in item:
            item, value = item.split("=", 1)
            items.insert(0, value)
        if item in needs_value:
            value = option_value(item, items)
            if item in ("-c", "--config"):
                args.config = value
            elif item == "--track-file":
                args.track_file = value
            elif item == "--interval":
                args.interval = _number(item, value, float, 0.01, 3600.0)
            elif item == "--fail-value":
                args.fail_value = int(_number(item, value, int, 1, 2**31 - 1))
            else:
                args.cycles = int(_number(item, value, int, 1, 10**9))
        elif item in ("-v", "--verbose"):
            args.verbose = True
        elif item == "--watch":
            args.watch = True
        elif item == "--fail-on-exit":
            args.fail_on_exit = True
        elif item.startswith("-") and item != "-":
            raise UsageError(f"unknown option {item!r} (see kacheck --help)")
        else:
            args.positional.append(item)
    if not args.positional:
        raise UsageError("missing the check NAME (see kacheck --help)")
    if len(args.positional) > 2:
        raise UsageError(f"too many arguments: {' '.join(args.positional)}")
    if args.watch and not args.track_file:
        raise UsageError("--watch needs --track-file PATH")
    if not args.watch and (args.track_file or args.cycles):
        raise UsageError("--track-file and --cycles only make sense with --watch")
    return args


def _apply_path_argument(spec: object, path: str) -> object:
    from kakit.config import CheckSpec, ProbeSpec
    from kakit.core.record import replace

    assert isinstance(spec, CheckSpec)
    if len(spec.probes) != 1 or spec.probes[0].type not in ("flag", "file"):
        raise UsageError(
            f"check {spec.name!r} takes no PATH argument (only flag and file checks do)"
        )
    if not path.startswith("/"):
        raise UsageError(f"PATH must be absolute, got {path!r}")
    probe = spec.probes[0]
    options = replace(probe.options, path=path)
    return replace(spec, probes=(ProbeSpec(type=probe.type, options=options),))


def _run(config: Config, args: Arguments) -> int:
    spec = config.check(args.positional[0])
    if len(args.positional) == 2:
        spec = _apply_path_argument(spec, args.positional[1])  # type: ignore[assignment]
    from kakit.config.trust import refuse_unsafe_programs

    refuse_unsafe_programs(config, check=spec, hooks=False)
    if args.watch:
        from kakit.kacheck.runner import CheckRunner
        from kakit.kacheck.watch import watch

        assert args.track_file is not None
        return watch(
            CheckRunner(config, spec),
            interval=args.interval,
            track_file=args.track_file,
            fail_value=args.fail_value,
            cycles=args.cycles,
            fail_on_exit=args.fail_on_exit,
        )
    from kakit.kacheck.runner import run_check

    return run_check(config, spec)


def run(argv: list[str]) -> int:
    """Run kacheck with ``argv`` (without the program name); returns the exit code."""
    return run_tool(argv, ident="kacheck", usage=USAGE, parse=parse_args, body=_run)


def main() -> int:
    """Console-script entry point."""
    return run(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
