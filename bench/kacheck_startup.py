"""One-shot kacheck start-up cost against ``python3 -c pass`` and the seeds' shell checks.

Budget (issue: kacheck, tightened by the layout issue): ``kacheck flag`` and ``kacheck nginx``
(healthy, no config file) take at most 2x the median wall time of ``python3 -c pass`` measured in the same run. The commands are
run round-robin so that machine noise hits them all alike.

Run: ``make bench`` (or ``.venv/bin/python bench/kacheck_startup.py [ROUNDS]``), as root.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

sys.path.insert(0, __file__.rsplit("/", 2)[0])

from bench._env import in_private_namespace, no_config_guard, private_nginx, summarize, venv_bin

BUDGET_RATIO = 2.0
FLAG = "/etc/keepalived/down"


def commands(config: str) -> list[tuple[str, list[str], bool]]:
    """(label, argv, subject to the budget)."""
    kacheck = venv_bin("kacheck")
    return [
        ("python3 -c pass (baseline)", [sys.executable, "-c", "pass"], False),
        ("kacheck flag", [kacheck, "flag"], True),
        ("kacheck nginx (healthy)", [kacheck, "nginx"], True),
        ("kacheck -c kakit.yaml nginx (info)", [kacheck, "-c", config, "nginx"], False),
        (
            "seed: [ -f /etc/keepalived/down ]",
            ["bash", "-c", f"[[ -f {FLAG} ]] && exit 1 || exit 0"],
            False,
        ),
        (
            "seed: ps -C nginx | wc -l",
            [
                "bash",
                "-c",
                'c=$(ps -C nginx --no-heading | wc -l); [ "$c" = 0 ] && exit 1 || exit 0',
            ],
            False,
        ),
    ]


def main() -> int:
    """Measure, print the table, exit 1 if a budget is exceeded."""
    in_private_namespace()
    no_config_guard()
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 60
    import tempfile

    config = os.path.join(tempfile.mkdtemp(prefix="kakit-bench-"), "kakit.yaml")
    with open(config, "w", encoding="utf-8") as handle:
        # A typical file: the nginx preset with a port, plus two more checks (all validated).
        handle.write(
            "version: 1\nchecks:\n  nginx: {restart: {max: 2, within: 300, wait: 3}}\n"
            "  uplink: {type: gateway, latch: true}\n  maintenance: {type: flag, path: /etc/keepalived/down}\n"
        )
    cmds = commands(config)
    samples: dict[str, list[float]] = {label: [] for label, _, _ in cmds}
    with private_nginx():
        for label, argv, _ in cmds:  # warm caches and check every command succeeds
            code = subprocess.run(
                argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            ).returncode
            if code != 0:
                print(f"{label}: exited {code} (expected 0: is {FLAG} present?)")
                return 1
        for _ in range(rounds):
            for label, argv, _ in cmds:
                start = time.perf_counter()
                subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                samples[label].append(time.perf_counter() - start)
    baseline, _ = summarize(samples[cmds[0][0]])
    print(f"kacheck one-shot start-up, {rounds} rounds, median and p90 wall time")
    print(f"{'command':40} {'median ms':>10} {'p90 ms':>8} {'x baseline':>11}  budget")
    failed = False
    for label, _, budgeted in cmds:
        median, p90 = summarize(samples[label])
        ratio = median / baseline
        verdict = ""
        if budgeted:
            ok = ratio <= BUDGET_RATIO
            failed |= not ok
            verdict = f"<= {BUDGET_RATIO:g}x: {'OK' if ok else 'EXCEEDED'}"
        print(f"{label:40} {median:10.1f} {p90:8.1f} {ratio:10.2f}x  {verdict}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
