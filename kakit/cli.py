"""``kakit``: the admin command line (config check, latches, the outbox, LVS-DR real servers).

A thin click layer: parse, call into the library, translate :class:`KakitError` into a one-line
message and its exit code (1 runtime, 2 usage/config). Subcommands import what they need when
they run.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NoReturn, TypeVar

import click

from kakit import __version__
from kakit.alerts.outbox import DONE_STATUSES, STATUSES
from kakit.exceptions import KakitError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from kakit.alerts.outbox import Outbox, Status

F = TypeVar("F", bound=Callable[..., Any])


class _RuntimeFailure(click.ClickException):
    """A runtime KakitError on its way out of click (exit 1)."""

    exit_code = 1


class _ConfigFailure(click.ClickException):
    """A configuration or usage KakitError on its way out of click (exit 2)."""

    exit_code = 2


def KakitCommandError(error: KakitError) -> click.ClickException:
    """Translate a KakitError into the click exception with the same exit code."""
    cls = _ConfigFailure if error.exit_code == 2 else _RuntimeFailure
    return cls(str(error))


@contextmanager
def _reported() -> Iterator[None]:
    """Let a KakitError raised in the block out as the click exception of its exit code."""
    try:
        yield
    except KakitError as exc:
        raise KakitCommandError(exc) from exc


def config_option(func: F) -> F:
    """The shared ``-c/--config`` option."""
    return click.option(
        "-c",
        "--config",
        "config_path",
        metavar="FILE",
        help="Configuration file (default $KAKIT_CONFIG, then /etc/kakit/kakit.yaml).",
    )(func)


def status_option(choices: tuple[str, ...], help_text: str) -> Callable[[F], F]:
    """The repeatable ``--status`` option of the outbox commands (into ``statuses``)."""
    return click.option(
        "--status", "statuses", multiple=True, type=click.Choice(choices), help=help_text
    )


def _load(config_path: str | None, *, cache: bool = True) -> Any:
    from kakit.config import load_config

    with _reported():
        return load_config(config_path, cache=cache)


@contextmanager
def _outbox(config_path: str | None) -> Iterator[tuple[Any, Outbox]]:
    """The loaded configuration and its open outbox, KakitErrors reported."""
    from kakit.alerts.outbox import Outbox

    loaded = _load(config_path)
    with _reported(), Outbox(loaded.outbox_path()) as box:
        yield loaded, box


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="kakit")
def kakit() -> None:
    """Admin tool of the keepalived companion toolkit."""


@kakit.group()
def config() -> None:
    """Inspect the configuration."""


@config.command("check")
@config_option
def config_check(config_path: str | None) -> None:
    """Validate the configuration and print the effective settings (secrets masked).

    Every error found is listed, one ``Error: file:line: key.path: message`` line each, and
    the exit status is 2 when there is any. The last lines say where log lines go, tried live.
    """
    import yaml

    from kakit.config import load_config
    from kakit.config.show import check_secrets, effective
    from kakit.exceptions import ConfigError, config_errors

    try:
        loaded = load_config(config_path, cache=False)  # validate the file itself, every time
    except ConfigError as exc:
        from kakit.keepalived.conf import looks_like_keepalived

        if config_path and looks_like_keepalived(config_path):
            _fail(
                [
                    f"{config_path} is a keepalived.conf, not a kakit.yaml: check it with "
                    f"`kakit lint {config_path}`"
                ]
            )
        _fail([str(error) for error in config_errors(exc)])
    problems: list[str] = []
    with _reported():
        data = effective(loaded)
    if loaded.states:
        from kakit.hooks import build_plan

        try:
            build_plan(loaded)  # constructs every hook: what only the back end can judge
        except ConfigError as exc:
            problems += [str(error) for error in config_errors(exc)]
    click.echo(
        yaml.safe_dump(data, sort_keys=False, default_flow_style=False, allow_unicode=True).rstrip()
    )
    from kakit.config.trust import unsafe_programs

    for where, program, problem in unsafe_programs(loaded):
        if problem.startswith("not found"):
            click.echo(f"Warning: {where}: {program}: {problem}", err=True)
        else:
            problems.append(
                f"{where}: refusing to run {program}: {problem} (anyone who can replace it "
                "gets root; kacheck and kanotify refuse it as keepalived's script security does)"
            )
    problems += check_secrets(loaded)
    problems += _unwritable(loaded)
    logs, lost = _log_destinations(loaded)
    click.echo(logs, err=True)
    if lost:
        click.echo(f"Warning: {lost}", err=True)
    if problems:
        _fail(problems)
    source = loaded.source or "built-in defaults (no configuration file)"
    click.echo(f"# {source}: OK", err=True)


def _unwritable(loaded: Any) -> list[str]:
    """The state and data directories kakit could not write (read-only, full of permission).

    A latch that cannot be written would let a failed check pass again with nobody told, and an
    outbox that cannot be written keeps no alert: both are errors, found before keepalived runs.
    """
    import os

    found = []
    for path, what in (
        (loaded.paths.state_dir, "state directory (paths.state_dir)"),
        (loaded.paths.data_dir, "data directory (paths.data_dir)"),
    ):
        existing = path
        while not os.path.isdir(existing) and existing != os.path.dirname(existing):
            existing = os.path.dirname(existing)  # created at first use: its parent must take it
        try:
            read_only = bool(os.statvfs(existing).f_flag & os.ST_RDONLY)
        except OSError:
            read_only = False
        if read_only:
            found.append(f"{what} {path}: on a read-only file system ({existing})")
        elif not os.access(existing, os.W_OK | os.X_OK):
            found.append(f"{what} {path}: {existing} is not writable by this user")
    return found


def _fail(problems: list[str]) -> NoReturn:
    """Print each problem as an ``Error:`` line and exit 2."""
    for problem in problems:
        click.echo(f"Error: {problem}", err=True)
    if len(problems) > 1:
        click.echo(f"{len(problems)} errors", err=True)
    sys.exit(2)


def _log_destinations(loaded: Any) -> tuple[str, str | None]:
    """``logs: ...`` for this configuration, and a warning when lines would be lost."""
    import os

    from kakit.core.log import FALLBACK_NAME, destinations

    settings = loaded.log
    return destinations(
        syslog=settings.syslog,
        syslog_socket=settings.syslog_socket,
        file=settings.file,
        fallback=os.path.join(loaded.paths.data_dir, FALLBACK_NAME),
    )


def _same_file(first: str, second: str) -> bool:
    """Whether two paths name one file (False when either cannot be looked at)."""
    import os

    try:
        return os.path.samefile(first, second)
    except OSError:
        return False


@kakit.command("lint")
@click.argument("keepalived_conf", metavar="KEEPALIVED.CONF")
@click.option("--peer", metavar="OTHER.CONF", help="The other node's keepalived.conf.")
@click.option(
    "--format", "output", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@click.option(
    "--fail-on",
    type=click.Choice(["error", "warning", "info"]),
    default="warning",
    show_default=True,
    help="Exit 1 on findings this severe or worse.",
)
@click.option(
    "-c",
    "--config",
    "config_path",
    metavar="FILE",
    help="kakit.yaml, for the checks vrrp_scripts run (default: the usual one, if readable).",
)
def lint(
    keepalived_conf: str, peer: str | None, output: str, fail_on: str, config_path: str | None
) -> None:
    """Check a keepalived.conf (and, with --peer, the pair) for what keepalived -t passes.

    Each finding is ``file:line: severity rule: message`` and its fix (docs/lint.md lists the
    rules). Exit 0 clean, 1 with findings at or above --fail-on, 2 when a file is unreadable.
    """
    from kakit.config import load_config
    from kakit.exceptions import ConfigError, config_errors
    from kakit.lint import lint as run_lint
    from kakit.lint import read
    from kakit.lint.report import EXIT_UNREADABLE, as_json, exit_status, text

    try:
        node = read(keepalived_conf)
        other = read(peer) if peer is not None else None
        if peer is not None and _same_file(keepalived_conf, peer):
            # Every pair rule would compare the node with itself: "equal priorities" and
            # "same source address" findings about a pair that is not one.
            raise ConfigError(f"--peer {peer} is {keepalived_conf} itself: give the other node's")
        config = load_config(config_path, cache=False) if config_path else None
    except ConfigError as exc:
        for error in config_errors(exc):  # one line per error (a kakit.yaml may have several)
            click.echo(f"Error: {error}", err=True)
        sys.exit(EXIT_UNREADABLE)
    if config is None:
        try:
            config = load_config(None, cache=False)
        except ConfigError:
            config = None  # not asked for: the kacheck rules are skipped
    findings = run_lint(node, other, config)
    click.echo(as_json(findings) if output == "json" else text(findings))
    sys.exit(exit_status(findings, fail_on))


@kakit.group()
def latch() -> None:
    """List or clear latched checks."""


@latch.command("list")
@config_option
def latch_list(config_path: str | None) -> None:
    """Show every latched check and why it latched, and where that was read."""
    import os

    from kakit.kacheck.latch import latch_dir, list_latches

    loaded = _load(config_path)
    with _reported():
        found = list_latches(loaded.paths.data_dir)
    # Which file and directory: a check run with -c FILE keeps its latches in that file's data
    # directory, and an empty list read from another one must not reassure anybody.
    source = os.path.abspath(loaded.source) if loaded.source else "none (built-in defaults)"
    click.echo(
        f"# config {source}; latches in {latch_dir(loaded.paths.data_dir)}; "
        f"state in {loaded.paths.state_dir}",
        err=True,
    )
    if not found:
        click.echo("no latched checks")
        return
    for item in found:
        click.echo(f"{item.check}: {item.describe()}")


@latch.command("clear")
@click.argument("name")
@click.option(
    "--keep-budget",
    is_flag=True,
    help="Keep the check's restart history (default: clearing starts the budget afresh).",
)
@config_option
def latch_clear(name: str, keep_budget: bool, config_path: str | None) -> None:
    """Clear the latch of check NAME so it reports what it sees again.

    Clearing means "I fixed it": the restarts made before count no more, so the next run may
    restart the service at once, unless --keep-budget is given.
    """
    from kakit.kacheck.latch import clear, get
    from kakit.kacheck.state import reset_budget

    loaded = _load(config_path)
    with _reported():
        # The budget first: if that fails, the latch still holds and nothing half-happened.
        if not keep_budget and get(loaded.paths.data_dir, name) is not None:
            reset_budget(loaded.paths.state_dir, name)
        cleared = clear(loaded.paths.data_dir, name)
    if not cleared:
        # Say where it looked: a forgotten -c reads another configuration's latches.
        import os

        from kakit.kacheck.latch import latch_dir

        source = os.path.abspath(loaded.source) if loaded.source else "none (built-in defaults)"
        click.echo(
            f"{name}: not latched (config {source}; latches in {latch_dir(loaded.paths.data_dir)})",
            err=True,
        )
        sys.exit(1)
    from kakit.core.entry import configure_logger
    from kakit.core.log import logger

    budget = "restart budget kept" if keep_budget else "restart budget reset"
    logger.configure(ident="kakit")
    configure_logger(loaded)
    logger.info(f"{name}: latch cleared by operator; {budget}")
    click.echo(f"{name}: latch cleared; {budget}")


@kakit.group()
def outbox() -> None:
    """Inspect and steer the durable alert outbox."""


@outbox.command("list")
@status_option(STATUSES, "Only these statuses (repeatable).")
@click.option("--limit", default=50, show_default=True, help="Newest N messages.")
@config_option
def outbox_list(statuses: tuple[Status, ...], limit: int, config_path: str | None) -> None:
    """Show alerts in the outbox, newest first."""
    from kakit.alerts.alert import iso_time

    with _outbox(config_path) as (_loaded, box):
        rows = box.messages(statuses or None, limit)
    if not rows:
        click.echo(
            "outbox is empty" if not statuses else f"no messages with status {', '.join(statuses)}"
        )
        return
    for row in rows:
        error = f"  last error: {row.last_error}" if row.last_error and row.status != "sent" else ""
        click.echo(
            f"#{row.id} {iso_time(row.event.time)} {row.event.kind.lower()} {row.event.name} {row.event.state} -> {row.channel}: "
            f"{row.status} (attempts {row.attempts}){error}"
        )


@kakit.command("status")
@config_option
def status(config_path: str | None) -> None:
    """Show each instance's state and hooks, the FIFO reader, and the outbox per channel."""
    import os
    import time

    from kakit.alerts.alert import iso_time
    from kakit.core.events import PRIORITY_KIND
    from kakit.core.locks import FileLock
    from kakit.kanotify.applied import AppliedStates

    loaded = _load(config_path)
    applied = AppliedStates(loaded.paths.state_dir).all()
    if not applied:
        click.echo("no state applied yet (since boot)")
    with _reported(), _open_outbox(loaded) as box:
        for event in applied:
            hooks = None
            if box is not None:
                newest = box.newest_event(event.kind, event.name)
                if newest is not None and newest[1].state == event.state:
                    hooks = box.hooks_of(newest[0])
            prio = f", priority {event.priority}" if event.priority >= 0 else ""
            if box is not None:
                # A priority change keepalived reported after the state (the FIFO reader records
                # every one) is the instance's priority now.
                report = box.newest_event(PRIORITY_KIND, event.name)
                if report is not None and report[1].order(box.boot) > event.order(box.boot):
                    prio = f", priority {report[1].priority} since {iso_time(report[1].time)}"
            click.echo(f"{event.label()}: {event.state} since {iso_time(event.time)}{prio}")
            click.echo(f"  hooks: {'; '.join(hooks) if hooks else 'no outcome recorded'}")
        lock = FileLock(os.path.join(loaded.paths.state_dir, "fifo-reader.lock"), create=False)
        try:
            reading = not lock.try_acquire()
            lock.release()
        except KakitError:
            reading = False
        click.echo(f"FIFO reader: {'running' if reading else 'not running'}")
        stats = box.channel_stats(time.time()) if box is not None else {}
        if not stats:
            click.echo("outbox: no alerts")
        for channel, (waiting, oldest, sent, failed) in sorted(stats.items()):
            age = f", oldest {oldest:.0f} s" if waiting else ""
            click.echo(f"outbox {channel}: {waiting} waiting{age}, {sent} sent, {failed} failed")


@contextmanager
def _open_outbox(loaded: Any) -> Iterator[Outbox | None]:
    """The outbox if it exists (status never creates one)."""
    import os

    from kakit.alerts.outbox import Outbox

    if not os.path.exists(loaded.outbox_path()):
        yield None
        return
    with Outbox(loaded.outbox_path()) as box:
        yield box


@outbox.command("retry")
@click.argument("ids", nargs=-1, type=int)
@config_option
def outbox_retry(ids: tuple[int, ...], config_path: str | None) -> None:
    """Send failed or expired alerts again (all of them, or the given IDs), starting now."""
    from kakit.alerts.detach import spawn_worker

    with _outbox(config_path) as (loaded, box):
        count = box.retry(list(ids) or None)
    click.echo(f"{count} message(s) queued for delivery")
    if count:
        spawn_worker(loaded.source)


@outbox.command("purge")
@status_option(DONE_STATUSES, "Default: sent, merged, expired, failed.")
@click.option(
    "--older-than", default="7d", show_default=True, help="Age such as 7d, 12h, 30m (0 for all)."
)
@config_option
def outbox_purge(statuses: tuple[Status, ...], older_than: str, config_path: str | None) -> None:
    """Delete finished alerts from the outbox. Pending alerts are never purged."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    try:
        seconds = (
            float(older_than[:-1]) * units[older_than[-1]]
            if older_than[-1] in units
            else float(older_than)
        )
    except (ValueError, IndexError):
        raise click.BadParameter(
            f"expected an age such as 7d, 12h or 30m, got {older_than!r}", param_hint="--older-than"
        ) from None
    with _outbox(config_path) as (_loaded, box):
        count = box.purge(statuses or DONE_STATUSES, seconds)
    click.echo(f"{count} message(s) purged")


@outbox.command("repair")
@config_option
def outbox_repair(config_path: str | None) -> None:
    """Move a damaged outbox aside (kept) and start a new one with every message still readable."""
    from kakit.alerts.outbox import repair

    path = _load(config_path).outbox_path()
    with _reported():
        aside, events, messages = repair(path)
    click.echo(f"{path}: moved aside to {aside} (kept); new outbox with {events} event(s) and")
    click.echo(
        f"{messages} undelivered message(s) recovered; run `kakit outbox retry` to send them"
    )


def _finite(value: float | None) -> float | None:
    """``value`` unless it is NaN, which passes click's FloatRange (every comparison with
    NaN is false) and would make a listener's "until" never come."""
    if value is not None and value != value:
        raise click.BadParameter("not a number")
    return value


@kakit.group()
def vrrp() -> None:
    """Look at VRRP on the wire."""


@vrrp.command("listen")
@click.argument("interface", required=False, default="")
@click.option("--once", is_flag=True, help="Listen for --duration seconds, print the table, exit.")
@click.option("--json", "as_json", is_flag=True, help="Like --once, the table as JSON.")
@click.option(
    "--duration",
    type=click.FloatRange(min=0.1, max=86400),
    default=None,
    callback=lambda _ctx, _param, value: _finite(value),
    help="Seconds to listen (default 6 with --once/--json, else until Ctrl-C).",
)
def vrrp_listen(interface: str, once: bool, as_json: bool, duration: float | None) -> None:
    """Show every VRRP sender per VRID and flag two masters or mismatched settings.

    Passive (it sends nothing); needs root or CAP_NET_RAW. Exit status: 0 nothing wrong seen,
    1 a finding (two masters, different intervals, addresses, versions or authentication),
    2 usage (no such interface, no permission).
    """
    from kakit.vrrp.listen import run

    with _reported():
        code = run(interface, once=once or as_json, as_json=as_json, duration=duration)
    sys.exit(code)


@kakit.group()
def realserver() -> None:
    """LVS-DR real server: VIPs on lo, ARP kept quiet (docs/pair.md)."""


def _vip_arguments(func: F) -> F:
    """The VIP arguments, ``--interface`` and ``-c`` shared by the realserver commands."""
    func = click.argument("vips", nargs=-1, metavar="[VIP]...")(func)
    func = click.option(
        "--interface",
        "-i",
        "interfaces",
        multiple=True,
        metavar="IF",
        help="Set the ARP sysctls on IF (repeatable; default: all and lo).",
    )(func)
    return config_option(func)


def _realserver_plan(
    vips: tuple[str, ...], interfaces: tuple[str, ...], config_path: str | None
) -> tuple[Any, Any]:
    """The validated plan (VIPs and interfaces from argv, else the realserver section) and the
    state directory. A bad VIP or interface name is a usage error (exit 2)."""
    from kakit.exceptions import UsageError
    from kakit.realserver import DEFAULT_INTERFACES, parse_interface, parse_vip
    from kakit.realserver.apply import Plan

    loaded = _load(config_path)
    section = loaded.realserver
    with _reported():
        try:
            parsed_vips = tuple(dict.fromkeys(parse_vip(vip) for vip in vips))
            parsed_interfaces = tuple(dict.fromkeys(parse_interface(name) for name in interfaces))
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    if not parsed_vips and section is not None:
        parsed_vips = section.vips
    if not parsed_interfaces:
        parsed_interfaces = section.interfaces if section is not None else DEFAULT_INTERFACES
    return Plan(vips=parsed_vips, interfaces=parsed_interfaces), loaded.paths.state_dir


def _no_vips() -> NoReturn:
    raise _ConfigFailure(
        "no VIPs: name them (kakit realserver up 10.0.0.100) or list them under "
        "'realserver: vips:' in kakit.yaml"
    )


@realserver.command("up")
@_vip_arguments
def realserver_up(
    vips: tuple[str, ...], interfaces: tuple[str, ...], config_path: str | None
) -> None:
    """Put each VIP on lo as /32 (/128) and set arp_ignore=1, arp_announce=2.

    Idempotent; what was found is recorded so that `down` restores it exactly.
    """
    from kakit.realserver.apply import Kernel, up

    plan, state_dir = _realserver_plan(vips, interfaces, config_path)
    if not plan.vips:
        _no_vips()
    with _reported():
        for line in up(plan, state_dir, Kernel()):
            click.echo(line)


@realserver.command("down")
@click.argument("vips", nargs=-1, metavar="[VIP]...")
@config_option
def realserver_down(vips: tuple[str, ...], config_path: str | None) -> None:
    """Remove the VIPs `up` added (every one, without VIPs) and, once none is left, restore
    the ARP sysctls to the values `up` found."""
    from kakit.realserver.apply import Kernel, down

    plan, state_dir = _realserver_plan(vips, (), config_path)
    with _reported():
        for line in down(plan.vips, state_dir, Kernel()):
            click.echo(line)


@realserver.command("status")
@_vip_arguments
def realserver_status(
    vips: tuple[str, ...], interfaces: tuple[str, ...], config_path: str | None
) -> None:
    """Say what is and is not in place; exit 0 when all of it is, 1 when not."""
    from kakit.core.record import replace
    from kakit.realserver.apply import Kernel, State, state_path, status

    plan, state_dir = _realserver_plan(vips, interfaces, config_path)
    with _reported():
        if not plan.vips:
            state = State.load(state_path(state_dir))
            plan = replace(plan, vips=tuple(state.vips))
            recorded = tuple(dict.fromkeys(interface for interface, _key in state.sysctls))
            if not interfaces and recorded:
                # No VIPs means no realserver section either: check where `up --interface
                # eth0` set the sysctls, not all and lo, which it left alone.
                plan = replace(plan, interfaces=recorded)
        if not plan.vips:
            _no_vips()
        findings = status(plan, Kernel())
    for finding in findings:
        click.echo(f"{'ok' if finding.ok else 'NOT IN PLACE'}: {finding.text}")
    if not all(finding.ok for finding in findings):
        sys.exit(1)
