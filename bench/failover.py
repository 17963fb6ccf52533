"""End to end, as a client sees it: how long is the VIP unanswered when the master breaks?

Topology (docs/tuning.md draws it): n1 (master, priority 150) and n2 (backup, 100) run nginx
and keepalived. Their ``eth0`` is on the service bridge with the router ``gw``, and the VIP
lives there; VRRP adverts go over a separate heartbeat bridge (``eth1``). The client ``cl``
sits behind ``gw`` and reaches the VIP through the master's port on the service bridge: the
master's uplink. Every 20 ms the client opens a new connection to the VIP and asks for the page
(each node answers its own name), with a 0.25 s timeout per request; each request's launch
time is taken on the monotonic clock, which every namespace shares with this process.

A fault is injected into n1; the run ends when the node that should serve afterwards (n2,
or n1 again after a restart) has answered ``STREAK`` requests in a row. Outage = launch of the
first request answered after the last failed one - launch of the first failed one; lost =
failed requests. The pair is then restored and its steady state verified (VIP on n1 only, n1
MASTER, n2 BACKUP, both nginx up, the trackers healthy, the client served by n1) before the
next run. One lab is built per setup and advert interval and reused by every fault and run.

Run, as root: ``.venv/bin/python bench/failover.py [--fault F]... [--setup S]... [--advert A]...
[--runs N] [--markdown FILE] [--all]`` or ``--soak MINUTES --setup S --advert A [--busy N]``.
``make bench-failover`` runs the full matrix (10 runs per cell).
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

sys.path.insert(0, __file__.rsplit("/", 2)[0])

from lab import Lab, Node, netns, procs, vrrp_instance_conf
from lab.bfd import (
    Kaprobe,
    bfd_instance_block,
    bfd_pidfile,
    bfd_pidfile_argv,
    kaprobe_path,
    track_file_block,
)
from lab.demo.nodes import kacheck_script_body, write_kakit_files
from lab.nginx import BROKEN_NGINX_CONF

PERIOD = 0.02
"""Seconds between two requests of the client."""

REQUEST_TIMEOUT = 0.25
"""Seconds a request may take (connect, send, answer) before it counts as failed."""

STREAK = 10
"""Requests in a row the expected node must answer for a run to end (and for steady state)."""

MASTER_PRIORITY = 150
BACKUP_PRIORITY = 100

FAULTS: dict[str, str] = {
    "nginx-dead": "nginx killed, unrestartable (its configuration broken)",
    "nginx-restart": "nginx killed, restartable",
    "uplink": "master's uplink cut (its switch port stops forwarding, carrier up)",
    "keepalived-kill": "master's keepalived SIGKILLed (all its processes)",
    "freeze": "master node frozen (SIGSTOP of every process in its namespace)",
}

SETUPS: dict[str, str] = {
    "seed": "seed style: `vrrp_script` shell + curl, interval 1",
    "kacheck": "`kacheck nginx` as `vrrp_script`, interval 1",
    "watch": "`kacheck --watch nginx --interval 0.1` + `track_file`",
    "kaprobe": "kaprobe BFD to the router, 50 ms x 3, + `track_file`",
    "track_bfd": "keepalived `bfd_instance` to the router, 50 ms x 3, + `track_bfd`",
}

ADVERTS: dict[str, tuple[int, float]] = {
    "v2-1s": (2, 1.0),
    "v3-50ms": (3, 0.05),
}
"""Name -> (VRRP version, advert_int)."""

NGINX_CHECKS = ("seed", "kacheck", "watch")
BFD_SETUPS = ("kaprobe", "track_bfd")

DETECTS: dict[str, tuple[str, ...]] = {
    "nginx-dead": NGINX_CHECKS,
    "nginx-restart": NGINX_CHECKS,
    "uplink": BFD_SETUPS,
    "keepalived-kill": (*NGINX_CHECKS, *BFD_SETUPS),
    "freeze": (*NGINX_CHECKS, *BFD_SETUPS),
}
"""Which setups can notice (and act on) which fault. An nginx check cannot see the uplink (the
heartbeat link still carries the adverts); BFD to the router cannot see nginx, and nothing in
those setups restarts it. VRRP itself covers the last two faults in every setup."""

WATCH_INTERVAL = "0.1"
BFD_MULTIPLIER = 3

STATE_LINE = re.compile(r"\(VI_1\) Entering (\w+) STATE")

# The client: one new connection per request, launched every PERIOD whatever the previous
# requests are doing, so a hung request never delays the next one. One line per request:
# "LAUNCH NODE" (monotonic seconds; NODE is "-" for a failure).
POLLER = """
import asyncio, sys, time
vip, period, timeout = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
request = f"GET / HTTP/1.0\\r\\nHost: {vip}\\r\\n\\r\\n".encode()

async def one():
    launch = time.monotonic()
    node = "-"
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(vip, 80)
            try:
                writer.write(request)
                data = await reader.read()
            finally:
                writer.close()
        head, _, body = data.partition(b"\\r\\n\\r\\n")
        if head.split(b" ", 2)[1:2] == [b"200"] and body.strip():
            node = body.split()[-1].decode("ascii", "replace")
    except (OSError, TimeoutError, ValueError):
        pass
    sys.stdout.write(f"{launch:.6f} {node}\\n")
    sys.stdout.flush()

async def main():
    tasks = set()
    next_at = time.monotonic()
    while True:
        task = asyncio.create_task(one())
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        next_at += period
        delay = next_at - time.monotonic()
        if delay < 0:
            next_at, delay = time.monotonic(), 0
        await asyncio.sleep(delay)

asyncio.run(main())
"""

# The seeds' chk_nginx.sh without its bugs: it asks nginx itself (an HTTP answer, not a count
# of processes named nginx in every namespace of the machine), tests the configuration before
# restarting, waits at most 0.8 s (not `sleep 3` in a 1 s interval) and leaves keepalived
# running: failing is enough, weight 0 makes the node FAULT.
SEED_SCRIPT = """\
#!/bin/bash
up() {{ {curl} -fsS -o /dev/null --max-time 0.5 http://127.0.0.1/; }}
up && exit 0
{nginx} -t -q -c {conf} 2>/dev/null || exit 1
{nginx} -c {conf} >/dev/null 2>&1 || exit 1
for _ in 1 2 3 4 5 6 7 8; do sleep 0.1; up && exit 0; done
exit 1
"""


@dataclass
class RunResult:
    """One fault injected and recovered from."""

    fault: str
    setup: str
    advert: str
    outage: float | None
    """Seconds, or None when the expected node never served within the bound."""
    lost: int
    load: float
    served_by: str
    servers: set[str] = field(default_factory=set)
    """Every node that answered a request during the run."""
    notes: list[str] = field(default_factory=list)


class Client:
    """The poller in the client namespace; its answers collected by a reader thread."""

    def __init__(self, node: Node, vip: str) -> None:
        self.results: list[tuple[float, str | None]] = []
        self.failed = 0
        """Failed requests since the start, kept through `trim`."""
        self._lock = threading.Lock()
        self.proc = node.popen(
            [sys.executable, "-c", POLLER, vip, str(PERIOD), str(REQUEST_TIMEOUT)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            launch, node = raw.decode().split()
            with self._lock:
                self.results.append((float(launch), None if node == "-" else node))
                self.failed += node == "-"

    def close(self) -> None:
        """Close the pipe once the poller has been stopped (the lab's teardown stops it)."""
        self._reader.join(timeout=5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()

    def since(self, start: float) -> list[tuple[float, str | None]]:
        """The answers to requests launched at or after ``start``, by launch time."""
        with self._lock:
            return sorted(r for r in self.results if r[0] >= start)

    def streak(self, start: float, node: str, count: int = STREAK) -> bool:
        """Whether the last ``count`` requests launched since ``start`` were all ``node``'s."""
        last = self.since(start)[-count:]
        return len(last) == count and all(served == node for _, served in last)

    def trim(self, before: float) -> None:
        """Forget answers to requests launched before ``before`` (a long run's memory)."""
        with self._lock:
            self.results = [r for r in self.results if r[0] >= before]


def outage_of(answers: list[tuple[float, str | None]]) -> tuple[float, int]:
    """Outage (seconds) and failed requests in a run's answers, sorted by launch."""
    failed = [launch for launch, node in answers if node is None]
    if not failed:
        return 0.0, 0
    back = [launch for launch, node in answers if node is not None and launch > failed[-1]]
    if not back:
        raise ValueError("no answer after the last failure")
    return back[0] - failed[0], len(failed)


def vrrp_states(node: Node) -> list[str]:
    """Every state keepalived logged for the instance, oldest first."""
    try:
        text = node.keepalived_log.read_text(errors="replace")
    except FileNotFoundError:
        return []
    return STATE_LINE.findall(text)


def vrrp_state(node: Node) -> str | None:
    """The instance's state as keepalived last logged it (``MASTER``, ``BACKUP``, ``FAULT``)."""
    states = vrrp_states(node)
    return states[-1] if states else None


def busy_loops(count: int) -> list[subprocess.Popen[bytes]]:
    """Start ``count`` spinning interpreters (the load of the soak)."""
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]


def cpu_seconds(node: Node) -> float:
    """CPU seconds used so far by the processes of a node (the children they reaped included)."""
    ticks = 0
    for pid in node.netns_pids():
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        # utime, stime, cutime, cstime: fields 14-17, the 12th to 15th after the ")" of comm.
        fields = stat.rsplit(")", 1)[1].split()
        ticks += sum(int(value) for value in fields[11:15])
    return ticks / os.sysconf("SC_CLK_TCK")


class Pair:
    """One lab with one setup at one advert interval, in steady state between runs."""

    def __init__(self, workdir: Path, setup: str, advert: str, bfd_ms: int = 50) -> None:
        if setup not in SETUPS or advert not in ADVERTS:
            raise ValueError(f"unknown setup {setup!r} or advert {advert!r}")
        self.setup = setup
        self.advert = advert
        self.version, self.advert_int = ADVERTS[advert]
        self.bfd_ms = bfd_ms
        self.lab = Lab(
            nodes=2,
            workdir=workdir / f"{setup}-{advert}",
            gateway=True,
            heartbeat=True,
            client=True,
        )
        self.frozen: list[int] = []
        self.probe: Kaprobe | None = None
        self.gw_probe: Kaprobe | None = None
        self.tracks: list[Path] = []
        self._client: Client | None = None

    # -- building --------------------------------------------------------------------

    def __enter__(self) -> Pair:
        self.lab.start()
        try:
            self._start()
        except BaseException:
            self._thaw()
            self.lab.close()
            if self._client is not None:
                self._client.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._thaw()
        try:
            self.lab.__exit__(exc_type, exc, tb)
        finally:
            if self._client is not None:
                self._client.close()

    @property
    def n1(self) -> Node:
        """The master."""
        return self.lab.nodes[0]

    @property
    def n2(self) -> Node:
        """The backup."""
        return self.lab.nodes[1]

    @property
    def client(self) -> Client:
        """The polling client (running once the pair has started)."""
        if self._client is None:
            raise RuntimeError("the pair has not started")
        return self._client

    @property
    def gw(self) -> Node:
        """The router."""
        assert self.lab.gateway is not None
        return self.lab.gateway

    def _timers(self) -> list[str]:
        return ["--interval", f"{self.bfd_ms}ms", "--multiplier", str(BFD_MULTIPLIER)]

    def _tracking(self, node: Node, kacheck: str, config: Path) -> tuple[dict[str, str], str, str]:
        """What ``node`` tracks in this setup: (vrrp_scripts, top-level blocks, instance lines).

        Starts what feeds a track file (the watcher, kaprobe) on the way.
        """
        if self.setup == "seed":
            script = node.dir / "chk_nginx.sh"
            script.write_text(
                SEED_SCRIPT.format(
                    curl=shutil.which("curl") or "curl",
                    nginx=shutil.which("nginx") or "nginx",
                    conf=node.nginx_conf,
                )
            )
            script.chmod(0o755)
            body = f'script "{script}"\ninterval 1\ntimeout 2\nfall 1\nrise 1\nweight 0\ninit_fail'
            return {"chk_nginx": body}, "", ""
        if self.setup == "kacheck":
            return {"chk_nginx": kacheck_script_body(kacheck, config)}, "", ""
        if self.setup == "watch":
            track = node.dir / "track-nginx"
            self.tracks.append(track)
            argv = [kacheck, "-c", str(config), "--watch", "nginx", "--interval", WATCH_INTERVAL]
            with (node.dir / "watch.out").open("ab") as out:
                node.popen(
                    [*argv, "--track-file", str(track)],
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            return (
                {},
                track_file_block("kacheck_nginx", track, init=0),
                "track_file {\nkacheck_nginx\n}",
            )
        # The BFD setups track the master's path to the router; the backup tracks nothing.
        if node is not self.n1:
            return {}, "", ""
        if self.setup == "kaprobe":
            self.probe = Kaprobe(node, self.gw.address, *self._timers()).start()
            return (
                {},
                track_file_block("kaprobe_gw", self.probe.track_file),
                "track_file {\nkaprobe_gw\n}",
            )
        top = bfd_instance_block("GW", self.gw.address, node.address, self.bfd_ms, BFD_MULTIPLIER)
        return {}, top, "track_bfd {\nGW\n}"

    def _start(self) -> None:
        kacheck = str(Path(kaprobe_path()).with_name("kacheck"))
        for node in self.lab.nodes:
            node.start_nginx()
        if self.setup in BFD_SETUPS:
            self.gw_probe = Kaprobe(self.gw, self.n1.address, *self._timers()).start()
        for node, priority in ((self.n1, MASTER_PRIORITY), (self.n2, BACKUP_PRIORITY)):
            # A budget no run exhausts: every restartable-nginx run must be able to restart.
            files = write_kakit_files(node, vip=self.lab.vip, restart_max=100)
            scripts, top, instance = self._tracking(node, kacheck, files.config)
            node.write_keepalived_conf(
                vrrp_instance_conf(
                    node,
                    priority=priority,
                    vip=self.lab.vip,
                    advert_int=self.advert_int,
                    track_scripts=scripts,
                    extra_instance=instance,
                    extra_global=f"vrrp_version {self.version}",
                    extra_top=top,
                    interface="eth1",
                    vip_dev="eth0",
                )
            )
            node.start_keepalived(extra_argv=bfd_pidfile_argv(node))
        assert self.lab.client is not None
        self._client = Client(self.lab.client, self.lab.vip)
        self.settle(timeout=60)

    # -- steady state ----------------------------------------------------------------

    def steady(self, since: float) -> bool:
        """Whether the pair is as it should be between runs (see the module docstring)."""
        if self.lab.holders(self.lab.vip) != [self.n1]:
            return False
        if vrrp_state(self.n1) != "MASTER" or vrrp_state(self.n2) != "BACKUP":
            return False
        if not all(node.nginx_running() for node in self.lab.nodes):
            return False
        if any(_read(track) != "0" for track in self.tracks):
            return False
        fast = self.bfd_ms * BFD_MULTIPLIER * 1000
        for probe in (self.probe, self.gw_probe):
            status = probe.status() if probe is not None else None
            if probe is not None and (
                status is None or status["state"] != "Up" or status["detection_time_us"] != fast
            ):
                return False
        return self.client.streak(since, self.n1.name)

    def settle(self, timeout: float = 30.0) -> None:
        """Wait until the pair is steady, then a few adverts more, and check it still is.

        Raises:
            TimeoutError: The pair did not come back to steady state in time.
            RuntimeError: It did, but did not stay there.
        """
        since = time.monotonic()
        procs.wait_until(
            lambda: self.steady(since), timeout=timeout, interval=0.05, what="steady state"
        )
        # A new master has just sent its first adverts: let the backup hear a few more
        # before the next fault.
        time.sleep(max(3 * self.advert_int, 0.3))
        if not self.steady(since):
            raise RuntimeError(f"{self.setup}/{self.advert}: steady state did not hold")

    # -- faults ----------------------------------------------------------------------

    def inject(self, fault: str) -> None:
        """Break n1 in the way ``fault`` names."""
        n1 = self.n1
        if fault in ("nginx-dead", "nginx-restart"):
            if fault == "nginx-dead":
                n1.nginx_conf.write_text(BROKEN_NGINX_CONF)
            for pid in n1.nginx_pids():
                procs.send_signal(pid, signal.SIGKILL)
        elif fault == "uplink":
            netns.set_bridge_port_state(self.lab.switch_ns, self.lab.port(n1), forwarding=False)
        elif fault == "keepalived-kill":
            # Every keepalived process at once: SIGKILL of the main process alone lets its
            # VRRP child, which the kernel tells of its parent's death, shut down cleanly
            # (priority-0 advert, VIP removed), which is a graceful stop, not a crash. Stopped
            # first, none of them can run between one SIGKILL and the next.
            pids = n1.keepalived_pids()
            for sig in (signal.SIGSTOP, signal.SIGKILL):
                for pid in pids:
                    procs.send_signal(pid, sig)
        elif fault == "freeze":
            # The PID namespace is shared with the rest of the machine: only processes whose
            # network namespace is n1's are stopped. A second pass catches a child forked
            # between listing and stopping.
            for _ in range(2):
                for pid in n1.netns_pids():
                    if pid not in self.frozen and procs.send_signal(pid, signal.SIGSTOP):
                        self.frozen.append(pid)
        else:
            raise ValueError(f"unknown fault {fault!r}")

    def _thaw(self) -> None:
        """SIGCONT every process `inject` stopped that is still n1's."""
        for pid in self.frozen:
            if self.n1.owns_pid(pid):
                procs.send_signal(pid, signal.SIGCONT)
        self.frozen = []

    def restore(self, fault: str) -> None:
        """Undo ``fault`` and wait for steady state."""
        n1 = self.n1
        if fault == "freeze":
            self._thaw()
        elif fault == "uplink":
            netns.set_bridge_port_state(self.lab.switch_ns, self.lab.port(n1), forwarding=True)
        elif fault == "keepalived-kill":
            procs.wait_until(
                lambda: not n1.keepalived_running(), timeout=10, what="n1's keepalived to exit"
            )
            # SIGKILL leaves the VIP on the interface (nobody removed it): clear it as an
            # operator's restart would, so that only the new keepalived decides.
            if n1.has_address(self.lab.vip):
                netns.ip("addr", "del", f"{self.lab.vip}/24", "dev", "eth0", ns=n1.ns)
            # The BFD child's pid file may name a zombie that keepalived takes for running
            # (start_keepalived clears the other three).
            bfd_pidfile(n1).unlink(missing_ok=True)
            n1.start_keepalived(extra_argv=bfd_pidfile_argv(n1))
        else:
            n1.repair_nginx()
            # The node's check may be restarting it right now: give it the chance first.
            try:
                procs.wait_until(n1.nginx_running, timeout=2.5, interval=0.05)
            except TimeoutError:
                try:
                    n1.start_nginx()
                except RuntimeError:
                    procs.wait_until(n1.nginx_running, timeout=5, what="nginx on n1")
        self.settle()

    def expected(self, fault: str) -> str:
        """The node that should serve once the fault has been dealt with."""
        return self.n1.name if fault == "nginx-restart" else self.n2.name

    def run(self, fault: str) -> RunResult:
        """Inject ``fault``, measure until the expected node serves, restore."""
        # Runs follow each other at a steady pace: without a random pause, every fault would
        # fall at the same phase of the check's interval and of the adverts, and the runs of a
        # cell would repeat one case instead of sampling them all.
        time.sleep(random.uniform(0, max(1.0, self.advert_int)))
        load = os.getloadavg()[0]
        expected = self.expected(fault)
        bound = 3 * self.advert_int + 10.0
        start = time.monotonic()
        self.client.trim(start - 5.0)
        self.inject(fault)
        notes: list[str] = []
        try:
            # After a restart, n1's streak must come from the new nginx, not from requests
            # answered in the instant between `start` and the kill.
            procs.wait_until(
                lambda: (
                    self.client.streak(start, expected)
                    and (fault != "nginx-restart" or self.n1.nginx_running())
                ),
                timeout=bound,
                interval=0.02,
                what=f"{expected} serving",
            )
        except TimeoutError:
            notes.append(f"{expected} not serving after {bound:g} s")
        time.sleep(REQUEST_TIMEOUT + 0.05)  # let requests still in flight answer or time out
        # Requests launched just before the fault that it cut short are lost to it too.
        answers = self.client.since(start - REQUEST_TIMEOUT)
        outage: float | None = None
        if notes:
            lost = sum(node is None for _, node in answers)
        else:
            outage, lost = outage_of(answers)
        served = answers[-1][1] if answers else None
        if fault == "keepalived-kill" and self.n1.has_address(self.lab.vip):
            notes.append("n1 kept the VIP (both nodes held it)")
        self.restore(fault)
        servers = {node for _, node in answers if node is not None}
        return RunResult(
            fault, self.setup, self.advert, outage, lost, load, served or "-", servers, notes
        )


def _read(path: Path) -> str | None:
    """A track file's value, or None while it does not exist."""
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        return None


# -- the matrix and its table -------------------------------------------------------------


def cell_figures(runs: list[RunResult]) -> str:
    """One markdown row's figures: outage p50 | max, lost p50 / max, load."""
    values = [r.outage * 1000 for r in runs if r.outage is not None]
    lost = [r.lost for r in runs]
    load = statistics.mean(r.load for r in runs)
    if len(values) < len(runs):
        return f"no recovery in {len(runs) - len(values)} of {len(runs)} | | | {load:.2f}"
    return (
        f"{statistics.median(values):.0f} | {max(values):.0f} | "
        f"{statistics.median(lost):g} / {max(lost)} | {load:.2f}"
    )


def table(
    results: dict[tuple[str, str, str], list[RunResult]],
    faults: list[str],
    setups: list[str],
    adverts: list[str],
) -> str:
    """The markdown table of every selected cell, fault by fault."""
    lines = [
        "| fault | setup | advert | runs | outage p50 ms | outage max ms | lost p50 / max "
        "| load avg | notes |",
        "|---|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for fault in faults:
        for setup in setups:
            for advert in adverts:
                runs = results.get((fault, setup, advert))
                if not runs:
                    lines.append(
                        f"| {fault} | {setup} | {advert} | 0 | not detected by this setup | | | | |"
                    )
                    continue
                notes = "; ".join(sorted({note for r in runs for note in r.notes}))
                lines.append(
                    f"| {fault} | {setup} | {advert} | {len(runs)} | {cell_figures(runs)} "
                    f"| {notes} |"
                )
    return "\n".join(lines)


def run_matrix(
    workdir: Path,
    faults: list[str],
    setups: list[str],
    adverts: list[str],
    runs: int,
    *,
    everything: bool = False,
    bfd_ms: int = 50,
    report: Callable[[RunResult], None] = lambda result: None,
) -> dict[tuple[str, str, str], list[RunResult]]:
    """Every selected cell, ``runs`` times; one lab per setup and advert, faults interleaved.

    Cells a setup cannot detect (`DETECTS`) are skipped unless ``everything``.
    """
    results: dict[tuple[str, str, str], list[RunResult]] = {}
    for setup in setups:
        cells = [fault for fault in faults if everything or setup in DETECTS[fault]]
        if not cells:
            continue
        for advert in adverts:
            with Pair(workdir, setup, advert, bfd_ms) as pair:
                # Round-robin over the faults, so that a noisy minute on the machine spreads
                # over every cell rather than spoiling one.
                for _ in range(runs):
                    for fault in cells:
                        result = pair.run(fault)
                        results.setdefault((fault, setup, advert), []).append(result)
                        report(result)
    return results


def soak(workdir: Path, setup: str, advert: str, minutes: float, busy: int, bfd_ms: int) -> int:
    """Hold the pair under ``busy`` spinning loops; count VRRP state changes and lost requests.

    Returns:
        1 when any node changed state (a false failover), else 0.
    """
    with Pair(workdir, setup, advert, bfd_ms) as pair:
        before = {node.name: len(vrrp_states(node)) for node in pair.lab.nodes}
        cpu_before = cpu_seconds(pair.n1)
        failed_before = pair.client.failed
        start = time.monotonic()
        spinners = busy_loops(busy)
        try:
            end = start + minutes * 60
            while (left := end - time.monotonic()) > 0:
                time.sleep(min(5.0, left))
                pair.client.trim(time.monotonic() - 10)  # memory stays bounded
        finally:
            for spinner in spinners:
                spinner.kill()
                spinner.wait()
        elapsed = time.monotonic() - start
        changes = {node.name: vrrp_states(node)[before[node.name] :] for node in pair.lab.nodes}
        cpu = (cpu_seconds(pair.n1) - cpu_before) / elapsed * 100
        print(
            f"soak: {setup}, {advert}, {elapsed / 60:.1f} min, {busy} busy loops, "
            f"{os.cpu_count()} CPUs, load avg {os.getloadavg()[0]:.2f}"
        )
        for name, states in changes.items():
            print(f"  {name}: {len(states)} VRRP state changes {states}")
        print(f"  requests lost: {pair.client.failed - failed_before}")
        print(f"  n1's CPU (every process of its namespace): {cpu:.2f} % of one CPU")
        return 1 if any(changes.values()) else 0


def _interrupted(signum: int, _frame: object) -> None:
    raise SystemExit(f"interrupted by signal {signum}")


def main(argv: list[str] | None = None) -> int:
    """Parse the options; run the matrix (or the soak) and print the table."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--fault", action="append", choices=list(FAULTS))
    parser.add_argument("--setup", action="append", choices=list(SETUPS))
    parser.add_argument("--advert", action="append", choices=list(ADVERTS))
    parser.add_argument("--runs", type=int, default=10, help="runs per cell (default 10)")
    parser.add_argument("--all", action="store_true", help="also run undetectable cells")
    parser.add_argument("--bfd-ms", type=int, default=50, help="BFD interval (default 50)")
    parser.add_argument("--markdown", type=Path, help="also write the table to this file")
    parser.add_argument("--soak", type=float, metavar="MINUTES", help="soak one setup instead")
    parser.add_argument("--busy", type=int, default=4, help="busy loops of the soak (4)")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        raise SystemExit("run as root (network namespaces)")
    # SIGTERM (and SIGINT, which a shell without job control leaves ignored in a background
    # job) unwinds through the labs' context managers, so nothing is left behind.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, _interrupted)
    faults = args.fault or list(FAULTS)
    setups = args.setup or list(SETUPS)
    adverts = args.advert or list(ADVERTS)
    with tempfile.TemporaryDirectory(prefix="kakit-failover-") as tmp:
        if args.soak is not None:
            if len(setups) != 1 or len(adverts) != 1:
                raise SystemExit("--soak needs exactly one --setup and one --advert")
            return soak(Path(tmp), setups[0], adverts[0], args.soak, args.busy, args.bfd_ms)

        def report(r: RunResult) -> None:
            outage = "none" if r.outage is None else f"{r.outage * 1000:.1f} ms"
            print(
                f"{r.fault:16s} {r.setup:10s} {r.advert:8s} outage {outage:>10s}  "
                f"lost {r.lost:4d}  served by {r.served_by}  load {r.load:.2f}  "
                f"answered by {','.join(sorted(r.servers))}  " + "; ".join(r.notes),
                flush=True,
            )

        started = time.monotonic()
        results = run_matrix(
            Path(tmp),
            faults,
            setups,
            adverts,
            args.runs,
            everything=args.all,
            bfd_ms=args.bfd_ms,
            report=report,
        )
    text = (
        f"{args.runs} runs per cell; a request every {PERIOD * 1000:g} ms, timeout "
        f"{REQUEST_TIMEOUT * 1000:g} ms; BFD {args.bfd_ms} ms x {BFD_MULTIPLIER}; "
        f"{os.cpu_count()} CPUs; {(time.monotonic() - started) / 60:.1f} min\n\n"
        + table(results, faults, setups, adverts)
    )
    print(text)
    if args.markdown is not None:
        args.markdown.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
