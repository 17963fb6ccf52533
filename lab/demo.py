"""``kakit lab demo`` (``make demo``): kacheck keeps nginx up, and the VIP moves when it cannot.

Two lab nodes run real keepalived and nginx. Both track ``kacheck nginx`` (weight 0, so a failing
check means FAULT) and run ``kanotify`` as keepalived's ``notify`` target: on MASTER it sets a
sysctl and installs kakit's firewall rules, on every state change it queues an alert for a
webhook sink running on the lab's gateway. The demo kills nginx on the master (kacheck restarts
it, the VIP stays), then breaks nginx's configuration there (the restart cannot work, the VIP
and the firewall rules move to the backup, the sink receives both nodes' alerts), then repairs
it (the VIP comes back by preemption), narrating every step with timestamps.

The building blocks (`kakit_files`, `configure_node`, `find_kacheck`...) are also used by the
end-to-end tests in ``tests/lab/test_e2e_kacheck.py``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lab.keepalived import vrrp_instance_conf
from lab.lab import GATEWAY_HOST, SUBNET_PREFIX, VIP_HOST, Lab, LabError
from lab.node import Node
from lab.procs import wait_until

CHECK = "nginx"
"""The kacheck check every node tracks (the built-in nginx preset, overlaid per node)."""

VRRP_SCRIPT = "chk_nginx"
VIP = f"{SUBNET_PREFIX}.{VIP_HOST}"
MASTER_PRIORITY = 150
BACKUP_PRIORITY = 100
RESTART_MAX = 2
RESTART_WITHIN = 300
RESTART_WAIT = 2

VIP_TIMEOUT = 20.0
"""Seconds to wait for the VIP to settle: ~3.5 s master-down interval plus generous slack."""

LOG_TIMEOUT = 15.0
"""Seconds to wait for an expected kacheck log line (kacheck runs every second)."""

SINK_PORT = 18080
"""Where the webhook sink listens on the gateway."""

SINK_URL = f"http://{SUBNET_PREFIX}.{GATEWAY_HOST}:{SINK_PORT}/alerts"
"""The webhook channel's URL: the sink on the lab's gateway (10.213.7.254)."""

SINK_TIMEOUT = 10.0
"""Seconds to wait for the sink to answer after it is started."""

COALESCE = 0.5
"""The outbox's ``coalesce``: how long an alert is held for flaps to collapse into it."""

ALERT_TIMEOUT = 10.0
"""Seconds to wait for an alert at the sink: the coalesce hold, the worker's start, one POST."""

RULES_TIMEOUT = 5.0
"""Seconds to wait for kakit's firewall rules to be in place (hooks run before alerts go out)."""

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_REFUSED = 2

_ROUTINE_OK = f"{CHECK}: OK: {CHECK} up ("
# The date part of kakit's "2026-11-22T02:05:26 ..." and keepalived's "Sun Nov 22 02:05:26 2026: ..."
_STAMP_RE = re.compile(r"^(?:\d{4}-\d\d-\d\dT|\w{3} \w{3} +\d+ )(\d\d:\d\d:\d\d)(?: \d{4}:)?")
_UNQUOTABLE = re.compile(r"[\s\"'\\]")
# The log idents of kanotify and of the outbox worker it starts (kakit.log is shared).
_NOT_KACHECK = (" kanotify[", " kakit-delivery[")


class DemoFailure(RuntimeError):
    """Something the demo expected did not happen; the message says what."""


# -- per-node kakit files -----------------------------------------------------------------------


@dataclass(frozen=True)
class KakitFiles:
    """Where one lab node's kakit keeps its files (lab nodes share the filesystem).

    Attributes:
        config: The node's kakit.yaml, passed to kacheck with ``-c``.
        state_dir: Volatile state (results, restart history, locks).
        data_dir: Persistent state (latches).
        log: kakit's log file: one line per kacheck run.
    """

    config: Path
    state_dir: Path
    data_dir: Path
    log: Path

    def latch(self, check: str = CHECK) -> Path:
        """Return the latch file of a check.

        Args:
            check: Check name.

        Returns:
            ``DATA_DIR/latches/CHECK``.
        """
        return self.data_dir / "latches" / check

    def log_lines(self) -> list[str]:
        """Return every line kakit has logged so far (empty before the first run)."""
        try:
            return self.log.read_text(errors="replace").splitlines()
        except FileNotFoundError:
            return []


def kakit_files(node: Node) -> KakitFiles:
    """Return the kakit file layout inside a node's directory.

    Args:
        node: The lab node.

    Returns:
        Paths under ``node.dir``; nothing is created.
    """
    return KakitFiles(
        config=node.dir / "kakit.yaml",
        state_dir=node.dir / "kakit-run",
        data_dir=node.dir / "kakit-lib",
        log=node.dir / "kakit.log",
    )


@dataclass(frozen=True)
class Alerting:
    """kanotify as keepalived's ``notify`` target, alerting a webhook.

    Attributes:
        kanotify: Absolute path of the kanotify console script.
        url: The webhook channel's URL (the lab's sink).
    """

    kanotify: str
    url: str = SINK_URL


def kakit_yaml_text(
    node: Node,
    files: KakitFiles,
    on_failure: str = "fail",
    alerting: Alerting | None = None,
    vip: str = VIP,
) -> str:
    """Build a node's kakit.yaml: private directories and the nginx check of that node.

    With ``alerting``, also kanotify's sections: MASTER sets ``net.ipv4.ip_nonlocal_bind`` and
    accepts VRRP and the VIP in kakit's firewall chain, BACKUP resets the sysctl, and every
    state change is alerted to the webhook channel ``sink``.

    Args:
        node: The lab node (its name, nginx config and pid file are used).
        files: The node's kakit file layout.
        on_failure: ``fail`` or ``stop-keepalived``.
        alerting: kanotify's webhook, or None for kacheck only.
        vip: The virtual address MASTER's firewall rule accepts.

    Returns:
        YAML text; paths are JSON-quoted, which YAML reads as plain strings.
    """
    nginx = shutil.which("nginx") or "nginx"
    conf = str(node.nginx_conf)

    def q(value: object) -> str:
        return json.dumps(str(value))

    def words(*argv: str) -> str:
        return "[" + ", ".join(q(word) for word in argv) + "]"

    text = (
        f"# kakit lab: kakit.yaml for node {node.name} (generated)\n"
        "version: 1\n"
        f"node: {q(node.name)}\n"
        f"paths: {{state_dir: {q(files.state_dir)}, data_dir: {q(files.data_dir)}}}\n"
        f"log: {{file: {q(files.log)}, syslog: false}}\n"
        "checks:\n"
        f"  {CHECK}:\n"
        f"    pidfile: {q(node.nginx_pidfile)}\n"
        f"    restart_command: {words(nginx, '-c', conf)}\n"
        f"    config_test: {words(nginx, '-t', '-q', '-c', conf)}\n"
        f"    restart: {{max: {RESTART_MAX}, within: {RESTART_WITHIN}, wait: {RESTART_WAIT}}}\n"
        f"    on_failure: {on_failure}\n"
    )
    if alerting is None:
        return text
    return text + (
        "states:\n"
        "  MASTER:\n"
        "    sysctl: {net.ipv4.ip_nonlocal_bind: 1}\n"
        f"    firewall: {{accept: [vrrp, {{destination: {q(vip)}}}]}}\n"
        "  BACKUP:\n"
        "    sysctl: {net.ipv4.ip_nonlocal_bind: 0}\n"
        "channels:\n"
        f"  sink: {{type: webhook, url: {q(alerting.url)}}}\n"
        "alerts:\n"
        "  - channels: [sink]\n"
        f"outbox: {{coalesce: {COALESCE:g}}}\n"
    )


def kacheck_script_body(kacheck: str, config: Path, check: str = CHECK) -> str:
    """Build the inside of the ``vrrp_script`` block that runs kacheck.

    keepalived gives scripts no useful environment, so the configuration goes on the command
    line. ``weight 0`` turns a failure into FAULT; ``init_fail`` keeps a node out of the
    election until kacheck has passed once; the timeout leaves room for kacheck's restart wait.

    Args:
        kacheck: Absolute path of the kacheck console script.
        config: The node's kakit.yaml.
        check: The check name.

    Returns:
        The block's lines.

    Raises:
        ValueError: A path contains whitespace, quotes or backslashes (keepalived splits the
            script line on spaces).
    """
    _check_quotable(kacheck, str(config))
    return "\n".join(
        [
            f'script "{kacheck} -c {config} {check}"',
            "interval 1",
            f"timeout {RESTART_WAIT + 3}",
            "fall 1",
            "rise 1",
            "weight 0",
            "init_fail",
        ]
    )


def _check_quotable(*paths: str) -> None:
    """Raise ValueError for a path keepalived could not take on a script line.

    keepalived splits script lines on spaces, so whitespace, quotes and backslashes are out.
    """
    for path in paths:
        if _UNQUOTABLE.search(path):
            raise ValueError(f"path {path!r} contains whitespace or quotes")


def kanotify_notify_line(kanotify: str, config: Path) -> str:
    """Build the ``notify`` line that makes keepalived run kanotify on every state change.

    keepalived appends ``INSTANCE NAME STATE PRIORITY``, which kanotify reads from the end.

    Args:
        kanotify: Absolute path of the kanotify console script.
        config: The node's kakit.yaml.

    Returns:
        The line for the ``vrrp_instance`` block.

    Raises:
        ValueError: A path contains whitespace, quotes or backslashes.
    """
    _check_quotable(kanotify, str(config))
    return f'notify "{kanotify} -c {config}"'


def configure_node(
    node: Node,
    priority: int,
    kacheck: str,
    on_failure: str = "fail",
    vip: str = VIP,
    alerting: Alerting | None = None,
) -> KakitFiles:
    """Write a node's kakit.yaml and a keepalived.conf tracking ``kacheck nginx``.

    kakit state, latches and outbox of an earlier run in the node's directory are removed.
    With ``alerting``, keepalived also runs kanotify as ``notify`` and the kakit.yaml (which
    then holds the webhook URL, an inline secret to kanotify) is made readable by root only.

    Args:
        node: The lab node.
        priority: VRRP priority.
        kacheck: Absolute path of the kacheck console script.
        on_failure: The check's ``on_failure`` setting.
        vip: The virtual address (default: the lab's VIP, 10.213.7.100).
        alerting: kanotify and its webhook, or None for kacheck only.

    Returns:
        The node's kakit file layout.
    """
    files = kakit_files(node)
    # A fresh start: restart history, latches and queued alerts left by an earlier run in the
    # same directory would otherwise change what kacheck and kanotify do.
    for stale in (files.state_dir, files.data_dir):
        shutil.rmtree(stale, ignore_errors=True)
    files.config.write_text(kakit_yaml_text(node, files, on_failure, alerting, vip))
    notify = ""
    if alerting is not None:
        files.config.chmod(0o600)
        notify = kanotify_notify_line(alerting.kanotify, files.config)
    node.write_keepalived_conf(
        vrrp_instance_conf(
            node,
            priority=priority,
            vip=vip,
            track_scripts={VRRP_SCRIPT: kacheck_script_body(kacheck, files.config)},
            extra_instance=notify,
        )
    )
    return files


# -- preflight ----------------------------------------------------------------------------------


def find_console_script(name: str) -> str | None:
    """Locate one of kakit's console scripts: beside this interpreter first, then on ``PATH``.

    Args:
        name: ``kacheck``, ``kanotify``...

    Returns:
        An absolute path, or None when it is not installed.
    """
    beside = Path(sys.executable).with_name(name)
    if beside.is_file():
        return str(beside)
    found = shutil.which(name)
    return str(Path(found).absolute()) if found else None


def find_kacheck() -> str | None:
    """Locate the kacheck console script (see `find_console_script`)."""
    return find_console_script("kacheck")


def find_kanotify() -> str | None:
    """Locate the kanotify console script (see `find_console_script`)."""
    return find_console_script("kanotify")


def unsafe_script_path(path: str) -> str | None:
    """Tell why keepalived's ``enable_script_security`` would disable a root-run script.

    Every component of the resolved path must be root-owned, and not group-writable (group
    other than 0) or world-writable unless it is a sticky directory (keepalived.md section 1).

    Args:
        path: The script path.

    Returns:
        A one-line reason, or None when keepalived accepts the path.
    """
    real = Path(os.path.realpath(path))
    for part in [*reversed(real.parents), real]:
        try:
            info = os.lstat(part)
        except OSError as exc:
            return f"{part}: {exc.strerror}"
        sticky = stat.S_ISDIR(info.st_mode) and bool(info.st_mode & stat.S_ISVTX)
        if info.st_uid != 0:
            return f"{part} is not owned by root"
        group_writable = bool(info.st_mode & stat.S_IWGRP) and info.st_gid != 0
        if not sticky and (group_writable or info.st_mode & stat.S_IWOTH):
            return f"{part} is group- or world-writable"
    return None


@dataclass(frozen=True)
class Tools:
    """The kakit console scripts keepalived runs in the demo (absolute paths)."""

    kacheck: str
    kanotify: str


def preflight() -> tuple[Tools | None, str]:
    """Check that the demo can run here.

    Returns:
        ``(tools, "")`` when it can, else ``(None, one-line reason)``.
    """
    if os.geteuid() != 0:
        return None, "the lab demo needs root (network namespaces): run it with sudo"
    needed = ("ip", "keepalived", "nginx", "iptables")
    missing = [tool for tool in needed if shutil.which(tool) is None]
    if missing:
        return None, f"the lab demo needs {' and '.join(missing)}: install them (make deps)"
    found: dict[str, str] = {}
    for name in ("kacheck", "kanotify"):
        path = find_console_script(name)
        if path is None:
            return None, f"{name} is not installed beside this Python or on PATH (make deps)"
        problem = unsafe_script_path(path)
        if problem:
            return None, f"keepalived would refuse to run {path}: {problem}"
        found[name] = path
    return Tools(kacheck=found["kacheck"], kanotify=found["kanotify"]), ""


# -- narration ----------------------------------------------------------------------------------


def short_stamp(line: str) -> str:
    """Cut a kakit or keepalived log line's leading timestamp down to ``HH:MM:SS``."""
    return _STAMP_RE.sub(r"\1", line)


class Narrator:
    """Prints timestamped steps to stdout, flushed at once."""

    def __init__(self) -> None:
        self.started = time.monotonic()

    def say(self, message: str) -> None:
        """Print one narration line with wall-clock time and seconds since the start."""
        elapsed = time.monotonic() - self.started
        print(f"[{time.strftime('%H:%M:%S')} +{elapsed:5.1f}s] {message}", flush=True)

    def show(self, source: str, lines: list[str]) -> None:
        """Print log lines indented under the current step."""
        for line in lines:
            print(f"      {source}| {short_stamp(line)}", flush=True)


class LogTail:
    """Reads the complete lines appended to a log file since the last read."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = path.stat().st_size if path.exists() else 0

    def new_lines(self) -> list[str]:
        """Return the complete lines written since the last call (or since creation)."""
        try:
            with self.path.open("rb") as handle:
                handle.seek(self.offset)
                data = handle.read()
        except FileNotFoundError:
            return []
        end = data.rfind(b"\n") + 1
        self.offset += end
        return data[:end].decode(errors="replace").splitlines()


def notable(lines: list[str]) -> list[str]:
    """Keep kacheck's lines but the routine ``nginx: OK: nginx up`` it logs every second.

    kanotify and its delivery worker log to the same file; their news is narrated from the
    sink instead, in the order it happened.
    """
    return [
        line
        for line in lines
        if _ROUTINE_OK not in line and not any(ident in line for ident in _NOT_KACHECK)
    ]


def wait_for_line(
    tail: LogTail,
    pattern: str,
    timeout: float,
    seen: list[str],
    on_poll: Callable[[], None] | None = None,
) -> str:
    """Wait until a new log line contains ``pattern``.

    Args:
        tail: The log to follow.
        pattern: Substring to look for.
        timeout: Seconds to wait at most.
        seen: Collects every new line read, matching or not.
        on_poll: Called before every poll (to watch something else meanwhile).

    Returns:
        The first matching line.

    Raises:
        DemoFailure: No such line within ``timeout``.
    """
    found: list[str] = []

    def matched() -> bool:
        if on_poll is not None:
            on_poll()
        lines = tail.new_lines()
        seen.extend(lines)
        found.extend(line for line in lines if pattern in line)
        return bool(found)

    try:
        wait_until(matched, timeout=timeout, interval=0.2, what=f"log line {pattern!r}")
    except TimeoutError as exc:
        last = notable(seen)[-1:] or seen[-1:] or ["nothing"]
        raise DemoFailure(
            f"kacheck never logged {pattern!r} within {timeout:g} s (last: {short_stamp(last[0])})"
        ) from exc
    return found[0]


def holder_names(lab: Lab) -> str:
    """Name the nodes holding the VIP, for narration."""
    names = [node.name for node in lab.holders(lab.vip)]
    return ", ".join(names) if names else "nobody"


def wait_for_holder(lab: Lab, node: Node, what: str, timeout: float = VIP_TIMEOUT) -> None:
    """Wait until ``node`` alone holds the VIP.

    Raises:
        DemoFailure: It did not within ``timeout``; the message names the current holders.
    """
    try:
        lab.wait_until(lambda: lab.holders(lab.vip) == [node], timeout=timeout, interval=0.2)
    except TimeoutError as exc:
        raise DemoFailure(
            f"{what}: the VIP did not reach {node.name} within {timeout:g} s "
            f"(held by {holder_names(lab)})"
        ) from exc


# -- the webhook sink and kakit's firewall rules ------------------------------------------------


def start_sink(lab: Lab, timeout: float = SINK_TIMEOUT) -> Path:
    """Start the webhook sink on the lab's gateway and wait until it answers.

    Args:
        lab: A lab built with ``gateway=True``.
        timeout: Seconds to wait for the sink's first answer.

    Returns:
        The file the sink appends every received alert body to (one JSON object per line).

    Raises:
        DemoFailure: The lab has no gateway, or the sink exited or did not answer in time.
    """
    gateway = lab.gateway
    if gateway is None:
        raise DemoFailure("the lab has no gateway to run the webhook sink on")
    received = gateway.dir / "alerts.jsonl"
    received.unlink(missing_ok=True)
    output = gateway.dir / "sink.out"
    argv = [sys.executable, "-m", "lab.sink", gateway.address, str(SINK_PORT)]
    with output.open("ab") as out:
        proc = gateway.popen(
            [*argv, str(received)],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def answers() -> bool:
        if proc.poll() is not None:
            tail = output.read_text(errors="replace").strip().splitlines()[-1:] or ["no output"]
            raise DemoFailure(f"the webhook sink exited with {proc.returncode}: {tail[0]}")
        try:
            gateway.http_get(port=SINK_PORT, timeout=1.0)
        except RuntimeError:
            return False
        return True

    try:
        wait_until(answers, timeout=timeout, interval=0.1, what="the webhook sink")
    except TimeoutError as exc:
        raise DemoFailure(f"the webhook sink did not answer within {timeout:g} s") from exc
    return received


def alert_line(body: dict[str, Any]) -> str:
    """Summarise one alert body the sink received, for narration.

    Returns:
        ``n1 VI_1: BACKUP → MASTER (hooks: sysctl: ...; firewall: ...)``.
    """
    sequence = body.get("sequence") or [body.get("state")]
    hooks = body.get("hooks")
    hooks_text = "; ".join(str(hook) for hook in hooks) if hooks else "none"
    late = ", arrived late" if body.get("late") else ""
    change = " → ".join(str(state) for state in sequence)
    return f"{body.get('node')} {body.get('name')}: {change} (hooks: {hooks_text}{late})"


@dataclass
class AlertFeed:
    """Follows the sink's file and narrates every alert body as the demo sees it arrive.

    Attributes:
        tail: The sink's output file.
        say: Where alerts are printed.
        bodies: Every alert body received so far, in arrival order.
    """

    tail: LogTail
    say: Narrator
    bodies: list[dict[str, Any]] = field(default_factory=list)

    def poll(self) -> None:
        """Read the alerts that arrived since the last poll and print them."""
        new: list[dict[str, Any]] = []
        for line in self.tail.new_lines():
            try:
                body = json.loads(line)
            except ValueError:
                continue
            if isinstance(body, dict):
                new.append(body)
        self.bodies.extend(new)
        self.say.show("sink", [alert_line(body) for body in new])

    def missing(self, wanted: list[tuple[str, str]], since: int) -> list[tuple[str, str]]:
        """List the ``(node, state)`` alerts not among the bodies received from ``since`` on.

        A collapsed flap counts for its final state, which is the state the node is in.
        """
        got = {(body.get("node"), body.get("state")) for body in self.bodies[since:]}
        return [pair for pair in wanted if pair not in got]

    def wait_for(self, wanted: list[tuple[str, str]], since: int, timeout: float) -> list[str]:
        """Wait until the sink has received an alert for every ``(node, state)``.

        Args:
            wanted: The alerts to wait for.
            since: Only bodies from this index of `bodies` on count.
            timeout: Seconds to wait at most.

        Returns:
            What did not arrive, as ``"n2's MASTER alert"`` phrases (empty when all did).
        """

        def arrived() -> bool:
            self.poll()
            return not self.missing(wanted, since)

        try:
            wait_until(arrived, timeout=timeout, interval=0.1, what="alerts at the sink")
        except TimeoutError:
            pass
        return [f"{node}'s {state} alert" for node, state in self.missing(wanted, since)]

    def require(self, wanted: list[tuple[str, str]], since: int, timeout: float) -> None:
        """Like `wait_for`, but a missing alert fails the demo.

        Raises:
            DemoFailure: Names the alerts that did not arrive and what the sink did receive.
        """
        absent = self.wait_for(wanted, since, timeout)
        if absent:
            got = [f"{body.get('node')} {body.get('state')}" for body in self.bodies[since:]]
            raise DemoFailure(
                f"{' and '.join(absent)} did not arrive at the webhook sink within "
                f"{timeout:g} s (it received {', '.join(got) or 'nothing'} meanwhile; kanotify "
                "and its delivery worker log to each node's kakit.log)"
            )


def kakit_rules(node: Node) -> list[str]:
    """kakit's tagged firewall rules in a node (``iptables -S`` lines holding ``kakit:``)."""
    out = node.run(["iptables", "-S"], timeout=10).stdout
    return [rule for rule in out.splitlines() if "kakit:" in rule]


def wait_for_rules(holder: Node, others: list[Node], what: str) -> list[str]:
    """Wait until kakit's firewall rules exist on ``holder`` and on none of ``others``.

    Returns:
        The holder's rules.

    Raises:
        DemoFailure: Not so within `RULES_TIMEOUT`.
    """
    try:
        wait_until(
            lambda: bool(kakit_rules(holder)) and not any(kakit_rules(n) for n in others),
            timeout=RULES_TIMEOUT,
            interval=0.2,
            what=what,
        )
    except TimeoutError as exc:
        where = [n.name for n in [holder, *others] if kakit_rules(n)]
        raise DemoFailure(
            f"{what}: kakit's firewall rules are on {', '.join(where) or 'no node'}, "
            f"not on {holder.name} alone"
        ) from exc
    return kakit_rules(holder)


# -- the steps ----------------------------------------------------------------------------------


@dataclass
class Pair:
    """The demo's two nodes, the master's kakit files and the alerts the sink received."""

    lab: Lab
    master: Node
    backup: Node
    files: KakitFiles
    alerts: AlertFeed
    notes: list[str] = field(default_factory=list)
    """Things that did not happen but do not fail the demo, for the summary."""


def show_rules(say: Narrator, node: Node, rules: list[str]) -> None:
    """Print a node's kakit firewall rules under the current step."""
    say.show(f"{node.name} iptables", rules or ["(no kakit rules)"])


def step_start(lab: Lab, tools: Tools, say: Narrator) -> Pair:
    """Start the sink, configure both nodes, start nginx and keepalived, wait for the VIP."""
    master, backup = lab.nodes
    received = start_sink(lab)
    gateway = lab.gateway
    assert gateway is not None  # start_sink checked
    alerts = AlertFeed(LogTail(received), say)
    say.say(
        f"{gateway.name} ({gateway.address}): webhook sink on :{SINK_PORT} appends alerts to {received}"
    )
    alerting = Alerting(tools.kanotify)
    files = configure_node(master, MASTER_PRIORITY, tools.kacheck, vip=lab.vip, alerting=alerting)
    configure_node(backup, BACKUP_PRIORITY, tools.kacheck, vip=lab.vip, alerting=alerting)
    say.say(f"kacheck: {tools.kacheck}; each node tracks `kacheck -c <node>/kakit.yaml {CHECK}`")
    say.say(
        f"kanotify: {tools.kanotify}; keepalived runs `kanotify -c <node>/kakit.yaml` on every "
        "state change: MASTER gets ip_nonlocal_bind=1 and kakit's firewall rules, every change "
        f"is alerted to {SINK_URL}"
    )
    for node, priority in ((master, MASTER_PRIORITY), (backup, BACKUP_PRIORITY)):
        node.start_nginx()
        node.start_keepalived()
        say.say(f"{node.name} ({node.address}, priority {priority}): nginx and keepalived started")
    wait_for_holder(lab, master, "startup")
    say.say(f"VIP {lab.vip} is on {holder_names(lab)}; alerts at the sink:")
    alerts.require([(master.name, "MASTER"), (backup.name, "BACKUP")], 0, ALERT_TIMEOUT)
    rules = wait_for_rules(master, [backup], "startup")
    say.say(f"kakit's firewall rules (`iptables -S`, tagged kakit:) are on {master.name} only")
    show_rules(say, master, rules)
    return Pair(lab, master, backup, files, alerts)


def state_changes(lines: list[str]) -> list[str]:
    """Keep the keepalived log lines about VRRP state changes and track-script failures."""
    return [line for line in lines if "Entering" in line or "now returning" in line]


def step_kill(pair: Pair, say: Narrator) -> None:
    """Kill nginx on the master; kacheck restarts it and the VIP stays."""
    lab, master = pair.lab, pair.master
    tail = LogTail(pair.files.log)
    keepalived_tail = LogTail(master.keepalived_log)
    say.say(f"killing every nginx process on {master.name} (config still valid)")
    master.stop_nginx()
    elsewhere: list[str] = []

    def watch_vip() -> None:
        if lab.holders(lab.vip) != [master]:
            elsewhere.append(holder_names(lab))

    seen: list[str] = []
    wait_for_line(tail, "restarted with", LOG_TIMEOUT, seen, on_poll=watch_vip)
    say.show(f"{master.name} kakit.log", notable(seen))
    if not master.nginx_running():
        raise DemoFailure(f"kacheck logged a restart but nginx is not running on {master.name}")
    watch_vip()
    changes = state_changes(keepalived_tail.new_lines())
    if elsewhere or changes:
        seen_on = f"seen on {elsewhere[0]}" if elsewhere else changes[0]
        raise DemoFailure(f"the VIP left {master.name} while nginx was restarted ({seen_on})")
    pair.alerts.poll()
    say.say(
        f"nginx runs again on {master.name}; keepalived saw no failure and "
        f"VIP {lab.vip} stayed on {holder_names(lab)}"
    )


def step_break(pair: Pair, say: Narrator) -> None:
    """Break nginx on the master; the VIP, kakit's rules and alerts move to the backup."""
    lab, master, backup = pair.lab, pair.master, pair.backup
    tail = LogTail(pair.files.log)
    master_tail, backup_tail = LogTail(master.keepalived_log), LogTail(backup.keepalived_log)
    pair.alerts.poll()
    since = len(pair.alerts.bodies)
    say.say(f"breaking nginx on {master.name}: invalid nginx.conf, processes killed")
    master.break_nginx()
    seen: list[str] = []
    wait_for_line(tail, "config test", LOG_TIMEOUT, seen)
    say.show(f"{master.name} kakit.log", notable(seen))
    wait_for_holder(lab, backup, "failover")
    say.show(f"{master.name} keepalived.log", state_changes(master_tail.new_lines()))
    say.show(f"{backup.name} keepalived.log", state_changes(backup_tail.new_lines()))
    say.say(f"VIP {lab.vip} moved to {holder_names(lab)}; alerts at the sink:")
    pair.alerts.require([(backup.name, "MASTER"), (master.name, "FAULT")], since, ALERT_TIMEOUT)
    rules = wait_for_rules(backup, [master], "failover")
    say.say(f"kakit's firewall rules moved with MASTER: on {backup.name}, gone from {master.name}")
    show_rules(say, backup, rules)
    show_rules(say, master, [])
    later: list[str] = []
    wait_for_line(tail, "restart budget spent", LOG_TIMEOUT, later)
    say.show(f"{master.name} kakit.log", notable(later))
    say.say(f"kacheck on {master.name} gave up restarting; {master.name} stays in FAULT")


def step_repair(pair: Pair, say: Narrator) -> None:
    """Repair and start nginx on the master; kacheck passes and the VIP comes back."""
    lab, master, backup = pair.lab, pair.master, pair.backup
    tail = LogTail(pair.files.log)
    keepalived_tail = LogTail(master.keepalived_log)
    pair.alerts.poll()
    since = len(pair.alerts.bodies)
    say.say(f"operator repairs nginx.conf on {master.name} and starts nginx")
    master.repair_nginx()
    master.start_nginx()
    passed = wait_for_line(tail, f"{CHECK}: OK:", LOG_TIMEOUT, [])
    say.show(f"{master.name} kakit.log", [passed])
    wait_for_holder(lab, master, "failback")
    say.show(f"{master.name} keepalived.log", state_changes(keepalived_tail.new_lines()))
    say.say(
        f"VIP {lab.vip} is back on {holder_names(lab)} (preemption, no action on kacheck); "
        "alerts at the sink:"
    )
    # Not a success criterion: the failover already proved the path; a late one is only noted.
    absent = pair.alerts.wait_for(
        [(master.name, "MASTER"), (backup.name, "BACKUP")], since, ALERT_TIMEOUT
    )
    if absent:
        note = f"{' and '.join(absent)} had not reached the sink after {ALERT_TIMEOUT:g} s"
        pair.notes.append(note)
        say.say(note)
    master_rules, backup_rules = kakit_rules(master), kakit_rules(backup)
    if master_rules and not backup_rules:
        say.say(f"kakit's firewall rules are back on {master.name} alone")
    else:
        note = f"kakit's firewall rules are on {master.name}: {len(master_rules)}, {backup.name}: {len(backup_rules)}"
        pair.notes.append(note)
        say.say(note)


def _run_steps(lab: Lab, tools: Tools, say: Narrator) -> Pair:
    """Run every step in order; the first that fails raises DemoFailure.

    Returns:
        The pair, with the alerts the sink received and any notes.
    """
    pair = step_start(lab, tools, say)
    steps: list[Callable[[Pair, Narrator], None]] = [step_kill, step_break, step_repair]
    for step in steps:
        step(pair, say)
    say.say("tearing the lab down")
    return pair


def run_demo(workdir: str | None) -> int:
    """Run the two-node kacheck and kanotify demo and narrate it on stdout.

    Args:
        workdir: Directory for the lab's files; a new temporary directory when None.

    Returns:
        0 when everything happened as expected, 1 when something did not (the output says
        what), 2 when the demo cannot run here (not root; keepalived, nginx, iptables, kacheck
        or kanotify missing).
    """
    tools, problem = preflight()
    if tools is None:
        print(f"demo: {problem}", file=sys.stderr)
        return EXIT_REFUSED
    # Absolute: the path ends up in keepalived.conf and kakit.yaml, read from other directories.
    path = Path(workdir).absolute() if workdir else Path(tempfile.mkdtemp(prefix="kakit-demo-"))
    if _UNQUOTABLE.search(str(path)):
        print(f"demo: choose a workdir without spaces or quotes: {path}", file=sys.stderr)
        return EXIT_REFUSED
    say = Narrator()
    say.say(f"lab files (configs, kakit.log, keepalived.log per node, gw/alerts.jsonl) in {path}")
    try:
        with Lab(nodes=2, workdir=path, gateway=True) as lab:
            pair = _run_steps(lab, tools, say)
    except DemoFailure as exc:
        say.say(f"demo FAILED: {exc}")
        return EXIT_FAILED
    except (LabError, TimeoutError, RuntimeError, OSError, ValueError) as exc:
        say.say(f"demo FAILED: lab error: {exc}")
        return EXIT_FAILED
    except (subprocess.SubprocessError, KeyboardInterrupt) as exc:
        say.say(f"demo FAILED: {type(exc).__name__} {exc}".rstrip() + " (lab torn down)")
        return EXIT_FAILED
    took = time.monotonic() - say.started
    count = len(pair.alerts.bodies)
    notes = f"; note: {'; '.join(pair.notes)}" if pair.notes else ""
    say.say(
        "demo OK: kacheck restarted a killed nginx and the VIP stayed; the VIP failed over when "
        "nginx could not be restarted and came back after the repair; kakit's firewall rules "
        f"followed MASTER and {count} alerts reached the webhook sink through kanotify's "
        f"outbox{notes} ({took:.0f} s)"
    )
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    """``python -m lab.demo [--workdir DIR]`` (what ``make demo`` runs)."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m lab.demo", description=run_demo.__doc__)
    parser.add_argument("--workdir", default=None, help="keep lab files here")
    args = parser.parse_args(argv)
    try:
        return run_demo(args.workdir)
    except LabError as exc:
        print(f"demo: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
