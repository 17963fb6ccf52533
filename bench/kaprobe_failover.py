"""End to end: the master loses its gateway; how long until the VIP answers on the backup?

Same lab, same run, three ways for the master (n1) to notice that its gateway (gw) is gone:

- ``kaprobe``: kaprobe on n1 peers with kaprobe on gw at INTERVAL x 3 and writes the track file
  the master tracks (weight 1, down value -254: FAULT);
- ``track_bfd``: keepalived's own ``bfd_instance`` on n1 peers with kaprobe on gw, same timers,
  tracked with ``track_bfd`` (weight 0: FAULT);
- ``kacheck gateway``: the one-second ``vrrp_script`` ping check (``fall 1``, weight 0).

VRRPv3 with ``advert_int`` 0.03 on both nodes (master 150, backup 100), so the backup's skew time
after the master's priority-0 advert is (256 - 100) / 256 x 0.03 s = 18 ms. A cut is
``ip link set eth0 down`` in the gateway's namespace; the VIP is seen on n2 through
``ip monitor address`` there, timed on the same monotonic clock as the cut.

Run, as root: ``.venv/bin/python bench/kaprobe_failover.py [CUTS] [INTERVAL_MS] [--realtime]``
(``--realtime``: both kaprobes run SCHED_FIFO; keepalived's BFD runs as it is).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import threading
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
from lab.netns import ip

ADVERT_INT = 0.03
VRRP = f"VRRPv3, advert_int {ADVERT_INT}, master priority 150, backup 100, preempt"


class VipWatch:
    """``ip monitor address`` in a namespace: the monotonic time the VIP last appeared."""

    def __init__(self, node: Node, vip: str) -> None:
        self.vip = vip
        self.appeared: float | None = None
        self.proc = subprocess.Popen(
            ["ip", "-n", node.ns, "monitor", "address"], stdout=subprocess.PIPE, text=True
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if f" {self.vip}/" in line and not line.startswith("Deleted"):
                self.appeared = time.monotonic()

    def when(self) -> float | None:
        """The time the VIP last appeared, or None since the last reset."""
        return self.appeared

    def close(self) -> None:
        """Stop the monitor."""
        self.proc.terminate()
        self.proc.wait(5)


def summary(values: list[float]) -> str:
    """p50 / max in milliseconds."""
    if not values:
        return "no samples"
    return f"p50 {statistics.median(values):7.1f} ms   max {max(values):7.1f} ms   n={len(values)}"


def run_phase(tmp: Path, mode: str, cuts: int, interval: int, realtime: bool) -> list[float]:
    """One way of tracking the gateway, ``cuts`` cuts; milliseconds from cut to VIP on n2."""
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
        watch = VipWatch(n2, lab.vip)
        results: list[float] = []
        try:
            for cut in range(cuts):
                lab.wait_until(
                    lambda: lab.holders(lab.vip) == [n1], timeout=30, what=f"{mode}: VIP on n1"
                )
                time.sleep(1.5)  # let the BFD session finish its Poll down to the fast timers
                watch.appeared = None
                cut_at = time.monotonic()
                ip("link", "set", "eth0", "down", ns=gw.ns)
                procs.wait_until(
                    lambda: watch.when() is not None,
                    timeout=10,
                    interval=0.005,
                    what=f"{mode} cut {cut}: VIP on n2",
                )
                appeared = watch.when()
                assert appeared is not None
                results.append((appeared - cut_at) * 1000)
                ip("link", "set", "eth0", "up", ns=gw.ns)
        finally:
            watch.close()
        return results


def main() -> int:
    """Run the three phases and print the table."""
    if os.geteuid() != 0:
        raise SystemExit("run as root (network namespaces)")
    argv = [a for a in sys.argv[1:] if not a.startswith("--")]
    realtime = "--realtime" in sys.argv
    cuts = int(argv[0]) if argv else 10
    interval = int(argv[1]) if len(argv) > 1 else 50
    with tempfile.TemporaryDirectory(prefix="kaprobe-failover-") as tmp:
        table = {
            f"kaprobe {interval} ms x 3 + track_file": run_phase(
                Path(tmp), "kaprobe", cuts, interval, realtime
            ),
            f"keepalived track_bfd {interval} ms x 3": run_phase(
                Path(tmp), "track_bfd", cuts, interval, realtime
            ),
            "kacheck gateway, vrrp_script interval 1": run_phase(
                Path(tmp), "kacheck", cuts, interval, realtime
            ),
        }
    mode = ", kaprobes --realtime" if realtime else ""
    print(f"gateway cut -> VIP on the backup ({VRRP}{mode})")
    for name, values in table.items():
        print(f"  {name:42s} {summary(values)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
