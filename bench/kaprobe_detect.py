"""Detection time of kaprobe against keepalived's own BFD, same lab, same run; CPU per session.

Two BFD pairs in four lab namespaces: n1 kaprobe (detector) <-> n2 kaprobe (peer), and n3
keepalived ``bfd_instance`` (detector) <-> n4 kaprobe (peer), both at INTERVAL x 3. Each trial
SIGSTOPs both peers at once and waits until both detectors have declared Down, then SIGCONTs
them and waits for Up again. Reported, per detector:

- last packet -> Down: the detection time plus how late the expiry was acted upon, from each
  daemon's own log line (keepalived: "Expired after 150 ms (31 usec overdue)"; kaprobe:
  "detection time 150 ms expired (31 usec overdue)"): the same quantity on both sides;
- for kaprobe also SIGSTOP -> Down, from the status file's monotonic change time (the same
  clock the bench reads), which includes the 0..interval since the peer's last packet.

CPU per session: user+system of the detector processes over a steady window.

Run, as root: ``.venv/bin/python bench/kaprobe_detect.py [TRIALS] [INTERVAL_MS] [--realtime]``.
"""

from __future__ import annotations

import os
import re
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, __file__.rsplit("/", 2)[0])

from lab import Lab, procs
from lab.bfd import Kaprobe, keepalived_bfd_argv, keepalived_bfd_conf

KEEPALIVED_EXPIRED = re.compile(r"Expired after (\d+) ms \((\d+) usec overdue\)")
KAPROBE_EXPIRED = re.compile(r"detection time (\d+) ms expired \((\d+) usec overdue\)")
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def expiries(path: Path, pattern: re.Pattern[str]) -> list[float]:
    """Milliseconds from last packet to Down, from each expiry line of a log."""
    text = path.read_text(errors="replace") if path.exists() else ""
    return [int(m[1]) + int(m[2]) / 1000 for m in pattern.finditer(text)]


def summary(values: list[float]) -> str:
    """p50 / p99 / max, milliseconds."""
    if not values:
        return "no samples"
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return f"p50 {statistics.median(ordered):7.1f}  p99 {p99:7.1f}  max {ordered[-1]:7.1f} ms"


def main() -> int:
    """Run the trials and print the table."""
    argv = [a for a in sys.argv[1:] if not a.startswith("--")]
    realtime = "--realtime" in sys.argv
    trials = int(argv[0]) if argv else 20
    interval = int(argv[1]) if len(argv) > 1 else 50
    extra = ["--interval", f"{interval}ms", "--multiplier", "3"]
    if realtime:
        extra.append("--realtime")
    with (
        tempfile.TemporaryDirectory(prefix="kaprobe-bench-") as tmp,
        Lab(nodes=4, workdir=Path(tmp)) as lab,
    ):
        n1, n2, n3, n4 = lab.nodes
        detector = Kaprobe(n1, n2.address, *extra).start()
        peer_a = Kaprobe(n2, n1.address, *extra).start()
        n3.write_keepalived_conf(keepalived_bfd_conf("PEER", n4.address, n3.address, interval, 3))
        with (n3.dir / "keepalived.log").open("ab") as out:
            n3.popen(keepalived_bfd_argv(n3), stdin=-3, stdout=out, stderr=-2)
        peer_b = Kaprobe(n4, n3.address, *extra).start()

        def both_up() -> bool:
            return all(
                (p.status() or {}).get("detection_time_us") == interval * 3000 and p.state() == "Up"
                for p in (detector, peer_b)
            )

        procs.wait_until(both_up, timeout=30, interval=0.05, what="both sessions Up")
        bfd_pid = procs.read_pidfile(n3.dir / "bfd.pid")
        assert bfd_pid is not None
        window = 10.0
        cpu0 = (cpu_seconds(detector.pid), cpu_seconds(bfd_pid))
        time.sleep(window)
        cpu1 = (cpu_seconds(detector.pid), cpu_seconds(bfd_pid))
        from_stop: list[float] = []
        keepalived_log = n3.dir / "keepalived.log"
        for trial in range(trials):
            seen = len(expiries(keepalived_log, KEEPALIVED_EXPIRED))
            stopped = time.monotonic()
            os.kill(peer_a.pid, signal.SIGSTOP)
            os.kill(peer_b.pid, signal.SIGSTOP)

            def both_down(seen: int = seen) -> bool:
                return (
                    detector.state() == "Down"
                    and len(expiries(keepalived_log, KEEPALIVED_EXPIRED)) > seen
                )

            procs.wait_until(both_down, timeout=10, interval=0.02, what=f"trial {trial}: Down")
            status = detector.status()
            assert status is not None
            from_stop.append((status["changed_monotonic"] - stopped) * 1000)
            os.kill(peer_a.pid, signal.SIGCONT)
            os.kill(peer_b.pid, signal.SIGCONT)
            procs.wait_until(both_up, timeout=30, interval=0.05, what=f"trial {trial}: Up")
        kaprobe_log = detector.dir / "kakit.log"
        print(
            f"kaprobe detection, {interval} ms x 3, {trials} trials"
            f"{' (--realtime)' if realtime else ''}, machine load as found"
        )
        print(
            f"  last packet -> Down  kaprobe    {summary(expiries(kaprobe_log, KAPROBE_EXPIRED))}"
        )
        print(
            f"  last packet -> Down  keepalived {summary(expiries(keepalived_log, KEEPALIVED_EXPIRED))}"
        )
        print(f"  SIGSTOP -> Down      kaprobe    {summary(from_stop)}")
        final = detector.status() or {}
        print(
            "  false positives (Downs beyond the trials): "
            f"kaprobe {final.get('counters', {}).get('down', 0) - trials}, "
            f"keepalived {len(expiries(keepalived_log, KEEPALIVED_EXPIRED)) - trials}"
        )
        print(f"CPU over {window:.0f} s of steady {interval} ms sessions (one session each):")
        print(f"  kaprobe    {(cpu1[0] - cpu0[0]) / window * 100:5.2f} % of a CPU")
        print(f"  keepalived {(cpu1[1] - cpu0[1]) / window * 100:5.2f} % of a CPU (BFD child)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
