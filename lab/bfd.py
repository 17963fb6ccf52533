"""BFD speakers for lab nodes: kaprobe, keepalived's ``bfd_instance`` and FRR's bfdd.

Only one BFD speaker per namespace can own UDP 3784, so each node runs at most one of them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path
from typing import Any

from lab.node import Node


def kaprobe_path() -> str:
    """The kaprobe console script beside the running interpreter (or on PATH)."""
    beside = Path(sys.executable).with_name("kaprobe")
    if beside.exists():
        return str(beside)
    found = shutil.which("kaprobe")
    if found is None:
        raise RuntimeError("kaprobe is not installed")
    return found


class Kaprobe:
    """A kaprobe process in a lab node, with a private state directory."""

    def __init__(
        self,
        node: Node,
        peer: str,
        *args: str,
        name: str = "kaprobe",
        from_config: bool = False,
        more_config: str = "",
    ) -> None:
        """Describe it; ``from_config`` puts the session in a probes: section, not in argv;
        ``more_config`` is appended to its kakit.yaml (channels, alerts...)."""
        self.node = node
        self.dir = node.dir / name
        self.dir.mkdir(parents=True, exist_ok=True)
        self.config = self.dir / "kakit.yaml"
        self.track_file = self.dir / "track"
        text = (
            f"version: 1\npaths: {{state_dir: {self.dir}/run, data_dir: {self.dir}/lib}}\n"
            f"log: {{file: {self.dir}/kakit.log, syslog: false}}\n"
        )
        session = ["--peer", peer, "--local", node.address, "--track-file", str(self.track_file)]
        if from_config:
            text += (
                f"probes:\n  - {{peer: {peer}, local: {node.address}, "
                f"track_file: {self.track_file}}}\n"
            )
            session = []
        self.config.write_text(text + more_config)
        self.config.chmod(0o600)  # root's alone: channels may hold inline secrets
        self.argv = [kaprobe_path(), "-c", str(self.config), "-v", *session, *args]
        self.log = self.dir / "kaprobe.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Kaprobe:
        """Start (or restart) the process."""
        with self.log.open("ab") as out:
            self.proc = self.node.popen(
                self.argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT
            )
        return self

    def stop(self) -> int | None:
        """SIGTERM and wait; returns the exit code."""
        if self.proc is None:
            return None
        self.proc.terminate()
        try:
            return self.proc.wait(10)
        finally:
            self.proc = None

    @property
    def pid(self) -> int:
        """The running process's pid."""
        assert self.proc is not None
        return self.proc.pid

    def status(self) -> dict[str, Any] | None:
        """The first session of the status file, or None before it exists."""
        try:
            data = json.loads((self.dir / "run" / "kaprobe" / "status.json").read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None
        session: dict[str, Any] = data["sessions"][0]
        return session

    def state(self) -> str | None:
        """The session's state, or None before the status file exists."""
        status = self.status()
        return None if status is None else str(status["state"])

    def track_value(self) -> str | None:
        """The track file's content, stripped, or None when missing."""
        try:
            return self.track_file.read_text().strip()
        except FileNotFoundError:
            return None


def bfd_instance_block(name: str, neighbor: str, source: str, interval_ms: int, mult: int) -> str:
    """keepalived's ``bfd_instance`` block: one session at ``interval_ms`` x ``mult``."""
    return textwrap.dedent(
        f"""\
        bfd_instance {name} {{
          neighbor_ip {neighbor}
          source_ip {source}
          min_rx {interval_ms}
          min_tx {interval_ms}
          idle_tx 1000
          multiplier {mult}
        }}
        """
    )


def track_file_block(name: str, path: Path | str, init: int = -254) -> str:
    """A ``track_file`` block for a file kaprobe (or kacheck) writes.

    ``weight 1``: the value itself is added, so kaprobe's -254 is FAULT (docs/kaprobe.md); a
    watcher's 1 only lowers the priority by one, hence ``weight 0`` (any non-zero is FAULT)
    when ``init`` is 0.
    """
    weight = 0 if init == 0 else 1
    return (
        f'track_file {name} {{\n    file "{path}"\n    weight {weight}\n    init_file {init}\n}}\n'
    )


def keepalived_bfd_conf(name: str, neighbor: str, source: str, interval_ms: int, mult: int) -> str:
    """A keepalived.conf with one ``bfd_instance`` and nothing else."""
    return f"global_defs {{\n  router_id {name}\n}}\n" + bfd_instance_block(
        name, neighbor, source, interval_ms, mult
    )


def bfd_pidfile(node: Node) -> Path:
    """The node's private BFD child pid file (``node.dir/bfd.pid``)."""
    return node.dir / "bfd.pid"


def bfd_pidfile_argv(node: Node) -> list[str]:
    """keepalived's option for a private BFD child pid file (`bfd_pidfile`).

    The default pid file is shared by every namespace: keepalived refuses to start while it
    names a running BFD child, another node's. keepalived counts a zombie as running, so a
    restart after a SIGKILL must remove the file first (PID 1 may reap the orphan late).
    """
    return ["-b", str(bfd_pidfile(node))]


def keepalived_bfd_argv(node: Node) -> list[str]:
    """keepalived's command line with a BFD child pid file (``node.dir/bfd.pid``)."""
    return [*node.keepalived_argv(), *bfd_pidfile_argv(node)]


class Bfdd:
    """FRR's bfdd started by hand in a node: no zebra, no systemd, its files in one directory.

    bfdd drops to user frr, which must reach its directory, so that lives in a fresh 0755
    temporary directory rather than under the test's private tmp path.
    """

    def __init__(self, node: Node, peer: str, interval_ms: int, mult: int) -> None:
        self.node = node
        self.dir = Path(tempfile.mkdtemp(prefix="kakit-bfdd-"))
        os.chmod(self.dir, 0o755)
        self.conf = self.dir / "bfdd.conf"
        self.conf.write_text(
            textwrap.dedent(
                f"""\
                frr defaults traditional
                log stdout debugging
                bfd
                 peer {peer} local-address {node.address}
                  detect-multiplier {mult}
                  receive-interval {interval_ms}
                  transmit-interval {interval_ms}
                 exit
                exit
                """
            )
        )
        shutil.chown(self.dir, "frr", "frr")
        shutil.chown(self.conf, "frr", "frr")
        self.log = node.dir / "bfdd.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Bfdd:
        """Start bfdd in the node's namespace."""
        argv = [
            "/usr/lib/frr/bfdd",
            "-f",
            str(self.conf),
            "-i",
            str(self.dir / "bfdd.pid"),
            "--vty_socket",
            str(self.dir),
            "-z",
            str(self.dir / "zserv.api"),
            "--bfdctl",
            str(self.dir / "bfdd.sock"),
            "-u",
            "frr",
            "-g",
            "frr",
            "-A",
            "127.0.0.1",
            "--log",
            "stdout",
        ]
        with self.log.open("ab") as out:
            self.proc = self.node.popen(
                argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT
            )
        return self

    def stop(self) -> None:
        """SIGTERM and wait."""
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None

    def cleanup(self) -> None:
        """Stop and remove the directory."""
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
