"""CPU per check cycle of ``kacheck --watch nginx`` against the one-shot run it replaces.

Budget (issue: kacheck): at most 2 ms CPU per cycle for the nginx preset. The cost of one cycle
is isolated by running the watcher for 1 and for N cycles and dividing the difference, so the
interpreter start-up is not counted; the baseline is the CPU of one one-shot ``kacheck nginx``.

Run: ``make bench`` (or ``.venv/bin/python bench/kacheck_watch.py [CYCLES]``), as root.
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, __file__.rsplit("/", 2)[0])

from bench._env import in_private_namespace, no_config_guard, private_nginx, venv_bin

BUDGET_MS = 2.0


def child_cpu(argv: list[str]) -> float:
    """CPU seconds (user + system) used by one child run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited {result.returncode}")
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> int:
    """Measure, print the table, exit 1 if the budget is exceeded."""
    in_private_namespace()
    no_config_guard()
    cycles = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    kacheck = venv_bin("kacheck")
    track = os.path.join(tempfile.mkdtemp(prefix="kakit-bench-"), "nginx.track")
    watch = [kacheck, "--watch", "nginx", "--interval", "0.01", "--track-file", track]
    with private_nginx():
        one_shot = statistics.median(child_cpu([kacheck, "nginx"]) for _ in range(15))
        short = statistics.median(child_cpu([*watch, "--cycles", "1"]) for _ in range(5))
        long = statistics.median(child_cpu([*watch, "--cycles", str(cycles)]) for _ in range(3))
    per_cycle_ms = (long - short) / (cycles - 1) * 1000
    print(f"kacheck watch mode, nginx preset, {cycles} cycles at 10 ms interval, CPU time")
    print(f"{'measurement':44} {'CPU ms':>10}")
    print(f"{'one-shot kacheck nginx (one fork per check)':44} {one_shot * 1000:10.2f}")
    print(f"{'watch: start-up + 1 cycle':44} {short * 1000:10.2f}")
    print(
        f"{'watch: per cycle':44} {per_cycle_ms:10.3f}  budget <= {BUDGET_MS:g} ms: {'OK' if per_cycle_ms <= BUDGET_MS else 'EXCEEDED'}"
    )
    return 0 if per_cycle_ms <= BUDGET_MS else 1


if __name__ == "__main__":
    raise SystemExit(main())
