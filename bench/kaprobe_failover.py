"""End to end: the master loses its gateway; how long until the VIP answers on the backup?

Same lab, same run, three ways for the master (n1) to notice that its gateway (gw) is gone:

- ``kaprobe``: kaprobe on n1 peers with kaprobe on gw at INTERVAL x 3 and writes the track file
  the master tracks (weight 1, down value -254: FAULT);
- ``track_bfd``: keepalived's own ``bfd_instance`` on n1 peers with kaprobe on gw, same timers,
  tracked with ``track_bfd`` (weight 0: FAULT);
- ``kacheck gateway``: the one-second ``vrrp_script`` ping check (``fall 1``, weight 0).

VRRPv3 with ``advert_int`` 0.03 on both nodes (master 150, backup 100), so the backup's skew time
after the master's priority-0 advert is (256 - 100) / 256 x 0.03 s = 18 ms. A cut is ``ip link
set eth0 down`` in the gateway's namespace, written to a running ``ip -batch`` (no process
start-up in the measurement); the VIP is seen on n2 through ``ip monitor address`` there, timed
on the same monotonic clock as the cut.

Run, as root: ``.venv/bin/python bench/kaprobe_failover.py [CUTS] [INTERVAL_MS] [--realtime]
[--kaprobe-only]`` (``--realtime``: both kaprobes run SCHED_FIFO, and so do the bench's
observers, below them; ``--kaprobe-only``: the first row alone). kaprobe's cuts are also broken
down: cut -> session Down, Down -> track file renamed (both from kaprobe's status file, on the
same monotonic clock) and the rest, keepalived's and the backup's share. A cut whose VIP had
moved before it (the session went Down on its own) is retried and reported.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, __file__.rsplit("/", 2)[0])

from lab import Lab, Node, procs, vrrp_instance_conf
from lab.bfd import (
    Kaprobe,
    bfd_instance_block,
    kaprobe_path,
    keepalived_bfd_argv,
    track_file_block,
)
from lab.vipwatch import VipWatch, realtime_prefix

ADVERT_INT = 0.03
VRRP = f"VRRPv3, advert_int {ADVERT_INT}, master priority 150, backup 100, preempt"


class Cutter:
    """``ip -batch -`` in the gateway's namespace, started before the cut: writing a command
    line applies it within microseconds, so the cut's time stamp is not blurred by the start-up
    of an ``ip`` process (a few milliseconds on a busy machine)."""

    def __init__(self, node: Node, realtime: bool) -> None:
        self.proc = subprocess.Popen(
            [*realtime_prefix(realtime), "ip", "-n", node.ns, "-force", "-batch", "-"],
            stdin=subprocess.PIPE,
            text=True,
        )

    def run(self, command: str) -> float:
        """Send one command; returns the monotonic time it was handed over."""
        assert self.proc.stdin is not None
        at = time.monotonic()
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return at

    def close(self) -> None:
        """End the batch."""
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(5)


class Breakdown:
    """Where kaprobe's cuts spent their time: cut -> Down, Down -> track file renamed, and the
    rest (keepalived's inotify reaction and FAULT advert, the backup's skew, the VIP added)."""

    def __init__(self) -> None:
        self.detect: list[float] = []
        self.track: list[float] = []
        self.rest: list[float] = []

    def add(self, probe: Kaprobe, cut_at: float, appeared: float) -> None:
        """Read the Down's stamps from kaprobe's status file (same monotonic clock)."""
        procs.wait_until(
            lambda: (
                (probe.status() or {}).get("state") == "Down"
                and (probe.status() or {}).get("track_file_latency_us") is not None
            ),
            timeout=5,
            what="kaprobe's status after the Down",
        )
        status = probe.status()
        assert status is not None
        down = float(status["changed_monotonic"])
        track = status["track_file_latency_us"] / 1e6
        self.detect.append((down - cut_at) * 1000)
        self.track.append(track * 1000)
        self.rest.append((appeared - down - track) * 1000)


def summary(values: list[float]) -> str:
    """p50 / max in milliseconds."""
    if not values:
        return "no samples"
    return f"p50 {statistics.median(values):7.1f} ms   max {max(values):7.1f} ms   n={len(values)}"


def run_phase(
    tmp: Path,
    mode: str,
    cuts: int,
    interval: int,
    realtime: bool,
    breakdown: Breakdown | None = None,
    flaps: list[str] | None = None,
) -> list[float]:
    """One way of tracking the gateway, ``cuts`` cuts; milliseconds from cut to VIP on n2.

    A cut whose VIP had already moved (the session went Down on its own just before) is not
    counted; ``flaps`` gets the mode's name for each.
    """
    flaps = [] if flaps is None else flaps
    with Lab(nodes=2, workdir=tmp / mode, gateway=True) as lab:
        n1, n2 = lab.nodes
        gw = lab.gateway
        assert gw is not None
        timers = ["--interval", f"{interval}ms", "--multiplier", "3"]
        if realtime:
            timers.append("--realtime")
        Kaprobe(gw, n1.address, *timers).start()
        extra_global = "vrrp_version 3"
        top = ""
        if mode == "kaprobe":
            probe = Kaprobe(n1, gw.address, *timers).start()
            top = track_file_block("kaprobe_gw", probe.track_file)
            instance = "track_file {\nkaprobe_gw\n}"
            scripts = None
        elif mode == "track_bfd":
            top = bfd_instance_block("GW", gw.address, n1.address, interval, 3)
            instance = "track_bfd {\nGW\n}"
            scripts = None
        else:
            config = n1.dir / "kakit.yaml"
            n1.dir.mkdir(parents=True, exist_ok=True)
            config.write_text(
                f"version: 1\npaths: {{state_dir: {n1.dir}/run, data_dir: {n1.dir}/lib}}\n"
                f"log: {{file: {n1.dir}/kakit.log, syslog: false}}\n"
            )
            kacheck = str(Path(kaprobe_path()).with_name("kacheck"))
            scripts = {
                "chk_gw": f'script "{kacheck} -c {config} gateway"\ninterval 1\ntimeout 1\n'
                "fall 1\nrise 1\nweight 0"
            }
            instance = ""
        master = vrrp_instance_conf(
            n1,
            priority=150,
            vip=lab.vip,
            advert_int=ADVERT_INT,
            track_scripts=scripts,
            extra_instance=instance,
            extra_global=extra_global,
            extra_top=top,
        )
        n1.write_keepalived_conf(master)
        n2.write_keepalived_conf(
            vrrp_instance_conf(
                n2, priority=100, vip=lab.vip, advert_int=ADVERT_INT, extra_global=extra_global
            )
        )
        for node in (n1, n2):
            # Private BFD pid files too: keepalived refuses to start while the default one
            # names a running BFD child (the other node's).
            with (node.dir / "keepalived.log").open("ab") as out:
                node.popen(keepalived_bfd_argv(node), stdin=-3, stdout=out, stderr=-2)
        # With --realtime the observers (the cut, ip monitor) run SCHED_FIFO too, below kaprobe.
        watch = VipWatch(n2, lab.vip, realtime=realtime)
        cutter = Cutter(gw, realtime)
        results: list[float] = []
        try:
            attempts = 0
            while len(results) < cuts and attempts < 3 * cuts:
                attempts += 1
                lab.wait_until(
                    lambda: lab.holders(lab.vip) == [n1], timeout=30, what=f"{mode}: VIP on n1"
                )
                time.sleep(1.5)  # let the BFD session finish its Poll down to the fast timers
                watch.appeared = None
                if lab.holders(lab.vip) != [n1]:
                    flaps.append(mode)  # the VIP left before the cut: a spontaneous Down
                    continue
                cut_at = cutter.run("link set eth0 down")
                try:
                    procs.wait_until(
                        lambda: watch.when() is not None,
                        timeout=10,
                        interval=0.005,
                        what=f"{mode} cut {len(results)}: VIP on n2",
                    )
                except TimeoutError:
                    if lab.holders(lab.vip) != [n2]:
                        raise
                    # It moved between the check and the cut, before the watch was reset.
                    flaps.append(mode)
                    cutter.run("link set eth0 up")
                    continue
                appeared = watch.when()
                assert appeared is not None
                results.append((appeared - cut_at) * 1000)
                if breakdown is not None and mode == "kaprobe":
                    breakdown.add(probe, cut_at, appeared)
                cutter.run("link set eth0 up")
        finally:
            cutter.close()
            watch.close()
        return results


def main() -> int:
    """Run the three phases and print the table."""
    if os.geteuid() != 0:
        raise SystemExit("run as root (network namespaces)")
    argv = [a for a in sys.argv[1:] if not a.startswith("--")]
    realtime = "--realtime" in sys.argv
    only_kaprobe = "--kaprobe-only" in sys.argv
    cuts = int(argv[0]) if argv else 10
    interval = int(argv[1]) if len(argv) > 1 else 50
    breakdown = Breakdown()
    flaps: list[str] = []
    modes = {
        f"kaprobe {interval} ms x 3 + track_file": "kaprobe",
        f"keepalived track_bfd {interval} ms x 3": "track_bfd",
        "kacheck gateway, vrrp_script interval 1": "kacheck",
    }
    if only_kaprobe:
        modes = dict(list(modes.items())[:1])
    with tempfile.TemporaryDirectory(prefix="kaprobe-failover-") as tmp:
        table = {
            name: run_phase(Path(tmp), mode, cuts, interval, realtime, breakdown, flaps)
            for name, mode in modes.items()
        }
    mode = ", kaprobes --realtime" if realtime else ""
    print(f"gateway cut -> VIP on the backup ({VRRP}{mode}; {os.cpu_count()} CPUs, shared)")
    for name, values in table.items():
        print(f"  {name:42s} {summary(values)}")
    if flaps:
        print(f"  cuts not counted, the VIP had moved before the cut: {', '.join(flaps)}")
    skew = (256 - 100) / 256 * ADVERT_INT * 1000
    print(f"kaprobe's cuts, where the time went (the backup's skew time is {skew:.1f} ms):")
    for name, values in (
        ("cut -> session Down (detection)", breakdown.detect),
        ("Down -> track file renamed", breakdown.track),
        ("track file -> VIP on the backup", breakdown.rest),
    ):
        print(f"  {name:42s} {summary(values)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
