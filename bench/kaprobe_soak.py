"""False positives under load: BFD sessions held for a while with busy loops on the machine.

Two pairs at INTERVAL x 3, as in bench/kaprobe_detect.py: n1 kaprobe <-> n2 kaprobe, and n3
keepalived ``bfd_instance`` <-> n4 kaprobe. BUSY processes spin (``while True: pass``) for the
whole soak; nothing is stopped on purpose, so every Down is a false positive. Reported: the Downs
each of the four speakers saw (kaprobes from their status counters, keepalived from its log).

Run, as root: ``.venv/bin/python bench/kaprobe_soak.py [SECONDS] [BUSY] [INTERVAL_MS] [--realtime]``
(default 600 s, 4 busy loops, 50 ms). The issue's two soaks, 10 minutes each::

    .venv/bin/python bench/kaprobe_soak.py 600 4 50
    .venv/bin/python bench/kaprobe_soak.py 600 4 10 --realtime

The busy loops end by themselves a minute after the soak should have, even if the bench is
killed; progress is printed every minute.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, __file__.rsplit("/", 2)[0])

from lab import Lab, procs
from lab.bfd import Kaprobe, keepalived_bfd_argv, keepalived_bfd_conf

KEEPALIVED_EXPIRED = re.compile(r"Expired after \d+ ms")


def downs(probe: Kaprobe) -> int:
    """The session's Up -> Down count so far (0 before its status file exists)."""
    status = probe.status()
    return int(status["counters"]["down"]) if status else 0


def main() -> int:
    """Soak and print the Downs."""
    argv = [a for a in sys.argv[1:] if not a.startswith("--")]
    realtime = "--realtime" in sys.argv
    seconds = float(argv[0]) if argv else 600.0
    busy = int(argv[1]) if len(argv) > 1 else 4
    interval = int(argv[2]) if len(argv) > 2 else 50
    extra = ["--interval", f"{interval}ms", "--multiplier", "3"]
    if realtime:
        extra.append("--realtime")
    with (
        tempfile.TemporaryDirectory(prefix="kaprobe-soak-") as tmp,
        Lab(nodes=4, workdir=Path(tmp)) as lab,
    ):
        n1, n2, n3, n4 = lab.nodes
        probes = {
            "n1 kaprobe (peer n2)": Kaprobe(n1, n2.address, *extra).start(),
            "n2 kaprobe (peer n1)": Kaprobe(n2, n1.address, *extra).start(),
            "n4 kaprobe (peer keepalived)": Kaprobe(n4, n3.address, *extra).start(),
        }
        n3.write_keepalived_conf(keepalived_bfd_conf("PEER", n4.address, n3.address, interval, 3))
        with (n3.dir / "keepalived.log").open("ab") as out:
            n3.popen(keepalived_bfd_argv(n3), stdin=-3, stdout=out, stderr=-2)

        def all_up() -> bool:
            return all(
                (p.status() or {}).get("detection_time_us") == interval * 3000
                for p in probes.values()
            ) and all(p.state() == "Up" for p in probes.values())

        procs.wait_until(all_up, timeout=30, interval=0.05, what="every session Up")
        log = n3.dir / "keepalived.log"
        keepalived_before = len(KEEPALIVED_EXPIRED.findall(log.read_text(errors="replace")))
        downs_before = {name: downs(p) for name, p in probes.items()}
        # Bounded: a spinner outlives a killed bench by a minute at most.
        spin = (
            f"import time\nend = time.monotonic() + {seconds + 60:.0f}\n"
            "while time.monotonic() < end: pass"
        )
        spinners = [subprocess.Popen([sys.executable, "-c", spin]) for _ in range(busy)]
        started = time.monotonic()
        try:
            # In steps, so a long soak shows it is alive and a Down is seen when it happens.
            while (left := seconds - (time.monotonic() - started)) > 0:
                time.sleep(min(60.0, left))
                so_far = sum(downs(p) - downs_before[n] for n, p in probes.items())
                print(
                    f"  {time.monotonic() - started:5.0f} s: false Downs so far {so_far}",
                    flush=True,
                )
        finally:
            for spinner in spinners:
                spinner.kill()
                spinner.wait()
        time.sleep(1.5)  # the status files are rewritten every second
        mode = ", kaprobes --realtime" if realtime else ""
        print(
            f"soak: {seconds:.0f} s, {busy} busy loops, {interval} ms x 3{mode}, "
            f"{os.cpu_count()} CPUs (shared with other work unless stated)"
        )
        for name, probe in probes.items():
            print(f"  {name:30s} false Downs {downs(probe) - downs_before[name]}")
        keepalived_after = len(KEEPALIVED_EXPIRED.findall(log.read_text(errors="replace")))
        print(
            f"  {'n3 keepalived (peer n4)':30s} false Downs {keepalived_after - keepalived_before}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
