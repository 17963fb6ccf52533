"""``kakit lab demo`` (``make demo``): kacheck keeps nginx up, and the VIP moves when it cannot.

Two lab nodes run real keepalived and nginx. Both track ``kacheck nginx`` (weight 0, so a failing
check means FAULT). The demo kills nginx on the master (kacheck restarts it, the VIP stays), then
breaks nginx's configuration there (the restart cannot work, the VIP moves to the backup), then
repairs it (the VIP comes back by preemption), narrating every step with timestamps.

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
from dataclasses import dataclass
from pathlib import Path

from kakit.lab.keepalived import vrrp_instance_conf
from kakit.lab.lab import SUBNET_PREFIX, VIP_HOST, Lab, LabError
from kakit.lab.node import Node
from kakit.lab.procs import wait_until

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

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_REFUSED = 2

_ROUTINE_OK = f"{CHECK}: OK: {CHECK} up ("
# The date part of kakit's "2026-11-22T02:05:26 ..." and keepalived's "Sun Nov 22 02:05:26 2026: ..."
_STAMP_RE = re.compile(r"^(?:\d{4}-\d\d-\d\dT|\w{3} \w{3} +\d+ )(\d\d:\d\d:\d\d)(?: \d{4}:)?")
_UNQUOTABLE = re.compile(r"[\s\"'\\]")


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


def kakit_yaml_text(node: Node, files: KakitFiles, on_failure: str = "fail") -> str:
    """Build a node's kakit.yaml: private directories and the nginx check of that node.

    Args:
        node: The lab node (its nginx config and pid file are used).
        files: The node's kakit file layout.
        on_failure: ``fail`` or ``stop-keepalived``.

    Returns:
        YAML text; paths are JSON-quoted, which YAML reads as plain strings.
    """
    nginx = shutil.which("nginx") or "nginx"
    conf = str(node.nginx_conf)

    def q(value: object) -> str:
        return json.dumps(str(value))

    def words(*argv: str) -> str:
        return "[" + ", ".join(q(word) for word in argv) + "]"

    return (
        f"# kakit lab: kakit.yaml for node {node.name} (generated)\n"
        "version: 1\n"
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
    for path in (kacheck, str(config)):
        if _UNQUOTABLE.search(path):
            raise ValueError(f"path {path!r} contains whitespace or quotes")
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


def configure_node(
    node: Node, priority: int, kacheck: str, on_failure: str = "fail", vip: str = VIP
) -> KakitFiles:
    """Write a node's kakit.yaml and a keepalived.conf tracking ``kacheck nginx``.

    kakit state and latches of an earlier run in the node's directory are removed.

    Args:
        node: The lab node.
        priority: VRRP priority.
        kacheck: Absolute path of the kacheck console script.
        on_failure: The check's ``on_failure`` setting.
        vip: The virtual address (default: the lab's VIP, 10.213.7.100).

    Returns:
        The node's kakit file layout.
    """
    files = kakit_files(node)
    # A fresh start: restart history and latches left by an earlier run in the same directory
    # would otherwise change what kacheck does.
    for stale in (files.state_dir, files.data_dir):
        shutil.rmtree(stale, ignore_errors=True)
    files.config.write_text(kakit_yaml_text(node, files, on_failure))
    node.write_keepalived_conf(
        vrrp_instance_conf(
            node,
            priority=priority,
            vip=vip,
            track_scripts={VRRP_SCRIPT: kacheck_script_body(kacheck, files.config)},
        )
    )
    return files


# -- preflight ----------------------------------------------------------------------------------


def find_kacheck() -> str | None:
    """Locate the kacheck console script: beside this interpreter first, then on ``PATH``.

    Returns:
        An absolute path, or None when kacheck is not installed.
    """
    beside = Path(sys.executable).with_name("kacheck")
    if beside.is_file():
        return str(beside)
    found = shutil.which("kacheck")
    return str(Path(found).absolute()) if found else None


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


def preflight() -> tuple[str, str]:
    """Check that the demo can run here.

    Returns:
        ``(kacheck path, "")`` when it can, else ``("", one-line reason)``.
    """
    if os.geteuid() != 0:
        return "", "the lab demo needs root (network namespaces): run it with sudo"
    missing = [tool for tool in ("ip", "keepalived", "nginx") if shutil.which(tool) is None]
    if missing:
        return "", f"the lab demo needs {' and '.join(missing)}: install them (make deps)"
    kacheck = find_kacheck()
    if kacheck is None:
        return "", "kacheck is not installed beside this Python or on PATH (make deps)"
    problem = unsafe_script_path(kacheck)
    if problem:
        return "", f"keepalived would refuse to run {kacheck}: {problem}"
    return kacheck, ""


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
    """Drop the routine ``nginx: OK: nginx up`` lines kacheck logs every second."""
    return [line for line in lines if _ROUTINE_OK not in line]


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


# -- the steps ----------------------------------------------------------------------------------


@dataclass
class Pair:
    """The demo's two nodes and their kakit files."""

    lab: Lab
    master: Node
    backup: Node
    files: KakitFiles


def step_start(lab: Lab, kacheck: str, say: Narrator) -> Pair:
    """Configure both nodes, start nginx and keepalived, wait for the VIP on the master."""
    master, backup = lab.nodes
    files = configure_node(master, MASTER_PRIORITY, kacheck, vip=lab.vip)
    configure_node(backup, BACKUP_PRIORITY, kacheck, vip=lab.vip)
    say.say(f"kacheck: {kacheck}; each node tracks `kacheck -c <node>/kakit.yaml {CHECK}`")
    for node, priority in ((master, MASTER_PRIORITY), (backup, BACKUP_PRIORITY)):
        node.start_nginx()
        node.start_keepalived()
        say.say(f"{node.name} ({node.address}, priority {priority}): nginx and keepalived started")
    wait_for_holder(lab, master, "startup")
    say.say(f"VIP {lab.vip} is on {holder_names(lab)}")
    return Pair(lab, master, backup, files)


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
    say.say(
        f"nginx runs again on {master.name}; keepalived saw no failure and "
        f"VIP {lab.vip} stayed on {holder_names(lab)}"
    )


def step_break(pair: Pair, say: Narrator) -> None:
    """Break nginx on the master; the restart cannot work and the VIP moves to the backup."""
    lab, master, backup = pair.lab, pair.master, pair.backup
    tail = LogTail(pair.files.log)
    master_tail, backup_tail = LogTail(master.keepalived_log), LogTail(backup.keepalived_log)
    say.say(f"breaking nginx on {master.name}: invalid nginx.conf, processes killed")
    master.break_nginx()
    seen: list[str] = []
    wait_for_line(tail, "config test", LOG_TIMEOUT, seen)
    say.show(f"{master.name} kakit.log", notable(seen))
    wait_for_holder(lab, backup, "failover")
    say.show(f"{master.name} keepalived.log", state_changes(master_tail.new_lines()))
    say.show(f"{backup.name} keepalived.log", state_changes(backup_tail.new_lines()))
    say.say(f"VIP {lab.vip} moved to {holder_names(lab)}")
    later: list[str] = []
    wait_for_line(tail, "restart budget spent", LOG_TIMEOUT, later)
    say.show(f"{master.name} kakit.log", notable(later))
    say.say(f"kacheck on {master.name} gave up restarting; {master.name} stays in FAULT")


def step_repair(pair: Pair, say: Narrator) -> None:
    """Repair and start nginx on the master; kacheck passes and the VIP comes back."""
    lab, master = pair.lab, pair.master
    tail = LogTail(pair.files.log)
    keepalived_tail = LogTail(master.keepalived_log)
    say.say(f"operator repairs nginx.conf on {master.name} and starts nginx")
    master.repair_nginx()
    master.start_nginx()
    passed = wait_for_line(tail, f"{CHECK}: OK:", LOG_TIMEOUT, [])
    say.show(f"{master.name} kakit.log", [passed])
    wait_for_holder(lab, master, "failback")
    say.show(f"{master.name} keepalived.log", state_changes(keepalived_tail.new_lines()))
    say.say(f"VIP {lab.vip} is back on {holder_names(lab)} (preemption, no action on kacheck)")


def _run_steps(lab: Lab, kacheck: str, say: Narrator) -> None:
    """Run every step in order; the first that fails raises DemoFailure."""
    pair = step_start(lab, kacheck, say)
    steps: list[Callable[[Pair, Narrator], None]] = [step_kill, step_break, step_repair]
    for step in steps:
        step(pair, say)
    say.say("tearing the lab down")


def run_demo(workdir: str | None) -> int:
    """Run the two-node kacheck demo and narrate it on stdout.

    Args:
        workdir: Directory for the lab's files; a new temporary directory when None.

    Returns:
        0 when everything happened as expected, 1 when something did not (the output says
        what), 2 when the demo cannot run here (not root, keepalived or nginx missing).
    """
    kacheck, problem = preflight()
    if problem:
        print(f"kakit lab demo: {problem}", file=sys.stderr)
        return EXIT_REFUSED
    # Absolute: the path ends up in keepalived.conf and kakit.yaml, read from other directories.
    path = Path(workdir).absolute() if workdir else Path(tempfile.mkdtemp(prefix="kakit-demo-"))
    if _UNQUOTABLE.search(str(path)):
        print(f"kakit lab demo: choose a workdir without spaces or quotes: {path}", file=sys.stderr)
        return EXIT_REFUSED
    say = Narrator()
    say.say(f"lab files (configs, kakit.log, keepalived.log per node) in {path}")
    try:
        with Lab(nodes=2, workdir=path) as lab:
            _run_steps(lab, kacheck, say)
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
    say.say(
        "demo OK: kacheck restarted a killed nginx and the VIP stayed; the VIP failed over when "
        f"nginx could not be restarted and came back after the repair ({took:.0f} s)"
    )
    return EXIT_OK
