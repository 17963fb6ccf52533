"""apache2 in a lab node: a self-contained configuration and start, stop and lookup helpers.

Debian's /etc/apache2/apache2.conf needs the ``APACHE_RUN_DIR``-style variables of
/etc/apache2/envvars and writes to the shared /run/apache2 and /var/log/apache2; lab nodes share
the filesystem, so each node gets its own file instead: pid file, mutexes, logs and ServerRoot in
the node's directory, listening on the node's address only.

The page is mod_status's machine-readable report (``/?auto``), whose first line is the
``ServerName``, here the node's name: the workers run as www-data and cannot read a file under
the node's 0700 temporary directory, and mod_status needs no file.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from lab import procs
from lab.node import Node

MODULES = Path("/usr/lib/apache2/modules")
PROGRAM = "apache2"

BROKEN_LINE = "KakitLabBrokenOnPurpose on\n"
"""A directive apache2 rejects (appended to a valid file: apache2 checks the MPM first)."""


def available() -> bool:
    """Whether apache2 and its prefork and status modules are installed."""
    return shutil.which(PROGRAM) is not None and all(
        (MODULES / f"mod_{name}.so").exists() for name in ("mpm_prefork", "status", "authz_core")
    )


def apache_conf_text(name: str, address: str, directory: Path, pidfile: Path) -> str:
    """Build a self-contained apache2 configuration for one lab node.

    Args:
        name: Node name: the ``ServerName``, and so the first line of the page.
        address: The node's address; apache2 listens on port 80 there only.
        directory: The node's apache2 directory (ServerRoot, mutexes, error log).
        pidfile: Where the master writes its pid.

    Returns:
        The configuration text.
    """
    # prefork with two workers: after a kill -9 of the master they are the orphans a restart
    # has to deal with (they keep the listening socket).
    return f"""# kakit lab: apache2 configuration for node {name} (generated)
ServerRoot {directory}
ServerName {name}
UseCanonicalName On
LoadModule mpm_prefork_module {MODULES}/mod_mpm_prefork.so
LoadModule authz_core_module {MODULES}/mod_authz_core.so
LoadModule status_module {MODULES}/mod_status.so
PidFile {pidfile}
Mutex file:{directory} default
ErrorLog {directory}/error.log
LogLevel notice
Listen {address}:80
User www-data
Group www-data
StartServers 2
MinSpareServers 2
MaxSpareServers 3
<Location />
    SetHandler server-status
    Require all granted
</Location>
"""


class Apache:
    """apache2 of one lab node.

    Attributes:
        node: The node.
        dir: ``NODE/apache2``: ServerRoot, mutexes and the error log.
        conf: The configuration file.
        pidfile: The master's pid file.
        output: stdout and stderr of the lab-started master.
    """

    def __init__(self, node: Node) -> None:
        self.node = node
        self.dir = node.dir / "apache2"
        self.conf = self.dir / "apache2.conf"
        self.pidfile = self.dir / "apache2.pid"
        self.output = self.dir / "apache2.out"

    def conf_text(self) -> str:
        """The node's valid configuration."""
        return apache_conf_text(self.node.name, self.node.address, self.dir, self.pidfile)

    def repair(self) -> None:
        """Write the valid configuration (does not start apache2)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        self.conf.write_text(self.conf_text())

    def break_conf(self) -> int:
        """Write a configuration apache2 rejects (does not stop apache2); returns the bad line."""
        text = self.conf_text() + BROKEN_LINE
        self.conf.write_text(text)
        return text.count("\n")

    def start_argv(self) -> list[str]:
        """How a restart starts it: ``apache2 -f CONF -k start`` (daemonizes)."""
        return [PROGRAM, "-f", str(self.conf), "-k", "start"]

    def test_argv(self) -> list[str]:
        """The configuration test: ``apache2 -t -f CONF``."""
        return [PROGRAM, "-t", "-f", str(self.conf)]

    def pids(self) -> list[int]:
        """Every apache2 process of this node (master and workers, orphans included)."""
        return [pid for pid in self.node.netns_pids() if procs.proc_comm(pid) == PROGRAM]

    def master(self) -> int | None:
        """The pid the pid file names, when that process is alive in this node."""
        pid = procs.read_pidfile(self.pidfile)
        if pid is None or not procs.is_alive(pid) or not self.node.owns_pid(pid):
            return None
        return pid

    def page(self, timeout: float = 5.0) -> str:
        """The page served on the node's address, fetched from inside the node."""
        return self.node.http_get(path="/?auto", timeout=timeout)

    def start(self, timeout: float = 15.0) -> None:
        """Write the valid configuration, start apache2 and wait until it serves its page.

        The master runs in the foreground (``-D FOREGROUND``) as the lab's child, in its own
        session like a daemon: a killed master is then reaped at once, not left a zombie.

        Raises:
            RuntimeError: apache2 already runs here, or exited during startup.
            TimeoutError: It did not answer within ``timeout``.
        """
        if self.pids():
            raise RuntimeError(f"{self.node.name}: apache2 is already running")
        self.repair()
        with self.output.open("ab") as out:
            proc = self.node.popen(
                [PROGRAM, "-f", str(self.conf), "-D", "FOREGROUND"],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

        def answers() -> bool:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"{self.node.name}: apache2 exited with {proc.returncode} during startup:\n"
                    f"{self.output.read_text(errors='replace')[-2000:]}"
                )
            try:
                return self.page(timeout=1.0).startswith(f"{self.node.name}\n")
            except RuntimeError:
                return False

        procs.wait_until(
            answers, timeout=timeout, interval=0.1, what=f"apache2 on {self.node.name}"
        )

    def stop(self, wait: float = 10.0) -> None:
        """Stop every apache2 process of this node: SIGTERM, then SIGKILL, bounded.

        Raises:
            TimeoutError: Some apache2 process survived SIGKILL.
        """
        left = procs.terminate(
            self.pids(),
            may_signal=self.node.owns_pid,
            reap=self.node.reap,
            grace=wait,
            kill_wait=wait,
        )
        if left:
            raise TimeoutError(f"{self.node.name}: apache2 processes {left} did not exit")
