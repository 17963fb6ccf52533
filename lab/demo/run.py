"""``python -m lab.demo``: preflight, build the lab, run the acts, tear down, say how it went."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

from lab.demo.acts import run_steps
from lab.demo.narration import DemoFailure, Narrator
from lab.demo.nodes import UNQUOTABLE
from lab.demo.preflight import preflight
from lab.lab import Lab, LabError

EXIT_OK = 0

EXIT_FAILED = 1

EXIT_REFUSED = 2


def run_demo(workdir: str | None) -> int:
    """Run the two-node kacheck, kanotify and kaprobe demo and narrate it on stdout.

    Args:
        workdir: Directory for the lab's files; a new temporary directory when None.

    Returns:
        0 when everything happened as expected, 1 when something did not (the output says
        what), 2 when the demo cannot run here (not root; keepalived, nginx, iptables, kacheck,
        kanotify or kaprobe missing).
    """
    tools, problem = preflight()
    if tools is None:
        print(f"demo: {problem}", file=sys.stderr)
        return EXIT_REFUSED
    # Absolute: the path ends up in keepalived.conf and kakit.yaml, read from other directories.
    path = Path(workdir).absolute() if workdir else Path(tempfile.mkdtemp(prefix="kakit-demo-"))
    if UNQUOTABLE.search(str(path)):
        print(f"demo: choose a workdir without spaces or quotes: {path}", file=sys.stderr)
        return EXIT_REFUSED
    say = Narrator()
    say.say(f"lab files (configs, kakit.log, keepalived.log per node, gw/alerts.jsonl) in {path}")
    try:
        with Lab(nodes=2, workdir=path, gateway=True) as lab:
            pair = run_steps(lab, tools, say)
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
        "followed MASTER; kaprobe moved the VIP when the master's uplink was cut; "
        f"{count} alerts reached the webhook sink through kakit's outbox{notes} ({took:.0f} s)"
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
