"""One lab node: a network namespace with its own directory, keepalived and nginx."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lab import netns, procs
from lab.nginx import BROKEN_NGINX_CONF, nginx_conf_text

RUN_TIMEOUT = 30.0
"""Default seconds for `Node.run`."""

_HTTP_GET = """
import sys, urllib.request
url, timeout = sys.argv[1], float(sys.argv[2])
with urllib.request.urlopen(url, timeout=timeout) as resp:
    sys.stdout.write(resp.read().decode("utf-8", "replace"))
"""


def _tail(path: Path, lines: int = 20) -> str:
    """Return the last lines of a log file for error messages, or a note if unreadable."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return f"({path} unreadable)"


class Node:
    """A lab node: a named network namespace plus a directory for all its files.

    The PID namespace and the filesystem are shared with the other nodes, so every file
    (configs, pid files, logs) lives under `dir` and every process lookup is filtered on
    this node's network namespace.

    Attributes:
        name: Short node name such as ``n1`` or ``gw``.
        ns: Actual network-namespace name, unique per lab.
        address: The node's IPv4 address on ``eth0``.
        prefixlen: Prefix length of ``address``.
        dir: The node's directory (created by the lab).
        keepalived_conf: Path of the node's keepalived.conf.
        keepalived_log: Where keepalived's stdout and stderr go.
        keepalived_pidfile: Main keepalived pid file (``-p``).
        vrrp_pidfile: VRRP child pid file (``-r``).
        checker_pidfile: Checker child pid file (``-c``).
        nginx_conf: Path of the node's nginx.conf.
        nginx_pidfile: Path of nginx's pid file.
        nginx_error_log: nginx error log.
        nginx_output: Where the lab-started nginx's stdout and stderr go.
    """

    def __init__(self, name: str, ns: str, address: str, directory: Path, prefixlen: int = 24):
        """Describe a node; the lab creates the namespace and directory.

        Args:
            name: Short node name.
            ns: Network-namespace name.
            address: IPv4 address on ``eth0``.
            directory: The node's directory.
            prefixlen: Prefix length of ``address``.
        """
        self.name = name
        self.ns = ns
        self.address = address
        self.prefixlen = prefixlen
        self.dir = directory
        self.keepalived_conf = directory / "keepalived.conf"
        self.keepalived_log = directory / "keepalived.log"
        self.keepalived_pidfile = directory / "ka.pid"
        self.vrrp_pidfile = directory / "vrrp.pid"
        self.checker_pidfile = directory / "chk.pid"
        self.nginx_conf = directory / "nginx.conf"
        self.nginx_pidfile = directory / "nginx.pid"
        self.nginx_error_log = directory / "nginx-error.log"
        self.nginx_output = directory / "nginx.out"
        self._keepalived: subprocess.Popen[bytes] | None = None
        self._nginx: subprocess.Popen[bytes] | None = None
        self._children: list[subprocess.Popen[bytes]] = []
        self._seen: set[int] = set()
        self._inode: int | None = None

    def __repr__(self) -> str:
        return f"Node(name={self.name!r}, ns={self.ns!r}, address={self.address!r})"

    # -- namespace and processes -------------------------------------------------------

    @property
    def netns_inode(self) -> int:
        """The inode of this node's network namespace (cached once the namespace exists)."""
        if self._inode is None:
            self._inode = netns.netns_inode(self.ns)
        return self._inode

    def owns_pid(self, pid: int) -> bool:
        """Tell whether a live process runs in this node's network namespace.

        Args:
            pid: Process id.

        Returns:
            True if ``/proc/PID/ns/net`` is this node's namespace.
        """
        return netns.pid_netns_inode(pid) == self.netns_inode

    def netns_pids(self) -> list[int]:
        """List every live process in this node's network namespace.

        Returns:
            Sorted process ids.
        """
        self.reap()
        pids = netns.pids_in_netns(self.netns_inode)
        self._seen.update(pids)
        return pids

    def _pids_named(self, comm: str) -> list[int]:
        """List live processes of this namespace whose ``/proc/PID/comm`` is ``comm``."""
        return [pid for pid in self.netns_pids() if procs.proc_comm(pid) == comm]

    def children(self) -> list[subprocess.Popen[bytes]]:
        """Return every process this node started (keepalived, nginx and `popen` ones).

        Returns:
            The Popen objects, finished ones included.
        """
        return list(self._children)

    def seen_pids(self) -> set[int]:
        """Return every pid this node has started or observed in its namespace.

        Returns:
            A copy of the set; used by teardown checks.
        """
        return set(self._seen)

    def reap(self) -> None:
        """Collect the exit status of finished children so they do not linger as zombies."""
        for proc in self._children:
            proc.poll()

    def run(
        self,
        argv: Sequence[str],
        *,
        check: bool = False,
        timeout: float = RUN_TIMEOUT,
        input: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run a command inside the node's namespace and capture its output.

        Args:
            argv: Command and arguments.
            check: Raise `subprocess.CalledProcessError` on a non-zero exit.
            timeout: Seconds before the command is killed and
                `subprocess.TimeoutExpired` is raised.
            input: Text fed to the command's stdin.

        Returns:
            The completed process with text stdout and stderr.
        """
        return subprocess.run(
            ["ip", "netns", "exec", self.ns, *argv],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=check,
            input=input,
        )

    def popen(self, argv: Sequence[str], **kwargs: Any) -> subprocess.Popen[bytes]:
        """Start a command inside the node's namespace without waiting for it.

        ``ip netns exec`` execs the command, so the returned pid is the command itself. The
        lab stops the process when it is torn down.

        Args:
            argv: Command and arguments.
            **kwargs: Passed to `subprocess.Popen`.

        Returns:
            The started process.
        """
        proc: subprocess.Popen[bytes] = subprocess.Popen(
            ["ip", "netns", "exec", self.ns, *argv], **kwargs
        )
        self._children.append(proc)
        self._seen.add(proc.pid)
        return proc

    def _spawn_logged(self, argv: Sequence[str], log: Path) -> subprocess.Popen[bytes]:
        """Start a daemon in the namespace with stdout and stderr appended to ``log``."""
        with log.open("ab") as out:
            # A new session keeps a terminal's Ctrl-C away from the daemons, so the lab's
            # own teardown stops them in order.
            return self.popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    # -- addresses ---------------------------------------------------------------------

    def addresses(self) -> list[str]:
        """List the IPv4 and IPv6 addresses configured in the namespace.

        Returns:
            Addresses without prefix length, loopback included.
        """
        out = netns.ip("-j", "addr", "show", ns=self.ns).stdout
        found: list[str] = []
        for iface in json.loads(out or "[]"):
            for info in iface.get("addr_info", []):
                local = info.get("local")
                if isinstance(local, str):
                    found.append(local)
        return found

    def has_address(self, address: str) -> bool:
        """Tell whether any interface of the node carries an address.

        Args:
            address: IPv4 or IPv6 address; a ``/prefix`` suffix is ignored.

        Returns:
            True if the address is configured in the namespace.
        """
        return address.split("/", 1)[0] in self.addresses()

    def http_get(
        self, host: str | None = None, port: int = 80, path: str = "/", timeout: float = 5.0
    ) -> str:
        """Fetch a URL from inside the namespace with the stdlib (no curl needed).

        Args:
            host: Address to connect to; defaults to the node's own address.
            port: TCP port.
            path: URL path.
            timeout: Socket timeout in seconds (the subprocess gets a few more).

        Returns:
            The response body.

        Raises:
            RuntimeError: The request failed or returned an HTTP error.
        """
        url = f"http://{host or self.address}:{port}{path}"
        try:
            res = self.run(
                [sys.executable, "-c", _HTTP_GET, url, str(timeout)], timeout=timeout + 10
            )
        except subprocess.TimeoutExpired as exc:
            raise RuntimeError(f"{self.name}: GET {url} timed out") from exc
        if res.returncode != 0:
            err = res.stderr.strip().splitlines()[-1:] or ["no output"]
            raise RuntimeError(f"{self.name}: GET {url} failed: {err[0]}")
        return res.stdout

    # -- nginx -------------------------------------------------------------------------

    def nginx_conf_text(self) -> str:
        """Return this node's valid nginx configuration text.

        Returns:
            What `repair_nginx` writes to `nginx_conf`.
        """
        return nginx_conf_text(self.name, self.dir, self.nginx_pidfile, self.nginx_error_log)

    def repair_nginx(self) -> None:
        """Write the valid nginx configuration to `nginx_conf` (does not start nginx)."""
        (self.dir / "nginx-tmp").mkdir(parents=True, exist_ok=True)
        self.nginx_conf.write_text(self.nginx_conf_text())

    def nginx_pids(self) -> list[int]:
        """List this node's nginx processes (master and workers).

        Returns:
            Pids whose ``comm`` is ``nginx`` and whose network namespace is this node's;
            another node's nginx is never included although all share one PID namespace.
        """
        return self._pids_named("nginx")

    def nginx_running(self) -> bool:
        """Tell whether any nginx process runs in this node's namespace.

        Returns:
            True if `nginx_pids` is not empty.
        """
        return bool(self.nginx_pids())

    def start_nginx(self, timeout: float = 10.0) -> None:
        """Write the valid config, start nginx in the namespace and wait until it answers.

        nginx runs as ``nginx -c CONF -g "daemon off;"`` so that it stays the lab's child:
        a daemonized master would be re-parented to PID 1, which on this machine reaps
        orphans only seconds later, so the master would linger as a zombie meanwhile.

        Args:
            timeout: Seconds to wait for an HTTP answer on the node's address.

        Raises:
            RuntimeError: nginx is already running here, or exited during startup.
            TimeoutError: nginx did not answer within ``timeout``.
        """
        if self.nginx_running():
            raise RuntimeError(f"{self.name}: nginx is already running")
        self.repair_nginx()
        proc = self._spawn_logged(
            ["nginx", "-c", str(self.nginx_conf), "-g", "daemon off;"], self.nginx_output
        )
        self._nginx = proc

        def answers() -> bool:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"{self.name}: nginx exited with {proc.returncode} during startup:\n"
                    f"{_tail(self.nginx_output)}\n{_tail(self.nginx_error_log)}"
                )
            try:
                self.http_get(timeout=1.0)
            except RuntimeError:
                return False
            return True

        procs.wait_until(answers, timeout=timeout, interval=0.1, what=f"nginx on {self.name}")
        self.nginx_pids()  # record master and worker pids for teardown checks

    def stop_nginx(self, wait: float = 10.0) -> None:
        """Stop every nginx process of this namespace: SIGTERM, then SIGKILL, bounded.

        Args:
            wait: Seconds to wait after each signal.

        Raises:
            TimeoutError: Some nginx process survived SIGKILL.
        """
        left = procs.terminate(
            self.nginx_pids(),
            may_signal=self.owns_pid,
            reap=self.reap,
            grace=wait,
            kill_wait=wait,
        )
        if left:
            raise TimeoutError(f"{self.name}: nginx processes {left} did not exit")

    def break_nginx(self, wait: float = 10.0) -> None:
        """Make nginx unusable: write an invalid config, then stop this node's nginx.

        Afterwards ``nginx -t`` and any restart with `nginx_conf` fail until
        `repair_nginx` is called.

        Args:
            wait: Seconds to wait after each signal.
        """
        self.nginx_conf.write_text(BROKEN_NGINX_CONF)
        self.stop_nginx(wait=wait)

    # -- keepalived --------------------------------------------------------------------

    def write_keepalived_conf(self, text: str) -> None:
        """Write the node's keepalived configuration.

        Args:
            text: Full configuration, for example from `vrrp_instance_conf`.
        """
        self.keepalived_conf.write_text(text)

    def keepalived_argv(self) -> list[str]:
        """Return the keepalived command line used by `start_keepalived`.

        Returns:
            Foreground, log to console, detailed logging, and per-node pid files so two
            nodes never fight over ``/run/keepalived.pid``.
        """
        return [
            "keepalived",
            "-n",
            "-l",
            "-D",
            "-f",
            str(self.keepalived_conf),
            "-p",
            str(self.keepalived_pidfile),
            "-r",
            str(self.vrrp_pidfile),
            "-c",
            str(self.checker_pidfile),
        ]

    def keepalived_pids(self) -> list[int]:
        """List this node's keepalived processes (main, VRRP and checker children).

        Returns:
            Pids whose ``comm`` is ``keepalived`` in this node's namespace.
        """
        return self._pids_named("keepalived")

    def keepalived_running(self) -> bool:
        """Tell whether keepalived runs in this node's namespace.

        Returns:
            True if any keepalived process of this namespace is alive.
        """
        return bool(self.keepalived_pids())

    def start_keepalived(
        self, wait: float = 10.0, extra_argv: Sequence[str] = ()
    ) -> subprocess.Popen[bytes]:
        """Start keepalived in the namespace and wait until it has written its pid file.

        Args:
            wait: Seconds to wait for the main pid file.
            extra_argv: Options appended to `keepalived_argv` (a BFD pid file, say).

        Returns:
            The keepalived main process (also remembered for `stop_keepalived`).

        Raises:
            FileNotFoundError: `keepalived_conf` has not been written.
            RuntimeError: keepalived already runs here, or exited during startup.
            TimeoutError: The pid file did not appear within ``wait``.
        """
        if not self.keepalived_conf.exists():
            raise FileNotFoundError(self.keepalived_conf)
        if self.keepalived_running():
            raise RuntimeError(f"{self.name}: keepalived is already running")
        # Stale pid files from an earlier run would only confuse the readiness check below.
        for path in (self.keepalived_pidfile, self.vrrp_pidfile, self.checker_pidfile):
            path.unlink(missing_ok=True)
        proc = self._spawn_logged([*self.keepalived_argv(), *extra_argv], self.keepalived_log)
        self._keepalived = proc

        def started() -> bool:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"{self.name}: keepalived exited with {proc.returncode} during startup:\n"
                    f"{_tail(self.keepalived_log)}"
                )
            return procs.read_pidfile(self.keepalived_pidfile) == proc.pid

        procs.wait_until(started, timeout=wait, interval=0.05, what=f"keepalived on {self.name}")
        return proc

    def keepalived_main_pid(self) -> int | None:
        """Return the pid of the running keepalived main process of this node.

        Returns:
            The lab-started process if still running, else the pid from the main pid file
            when that process lives in this namespace; None when keepalived is not running.
        """
        if self._keepalived is not None and self._keepalived.poll() is None:
            return self._keepalived.pid
        pid = procs.read_pidfile(self.keepalived_pidfile)
        if pid is not None and procs.is_alive(pid) and self.owns_pid(pid):
            return pid
        return None

    def signal_keepalived(self, sig: int) -> None:
        """Send a signal to the keepalived main process (for example SIGHUP to reload).

        Args:
            sig: Signal number.

        Raises:
            RuntimeError: keepalived is not running on this node.
        """
        pid = self.keepalived_main_pid()
        if pid is None:
            raise RuntimeError(f"{self.name}: keepalived is not running")
        procs.send_signal(pid, sig)

    def stop_keepalived(self, sig: int = signal.SIGTERM, wait: float = 10.0) -> None:
        """Signal the keepalived main process and wait until all its processes are gone.

        SIGTERM makes a master send a priority-0 advert, so its backup takes over at once;
        SIGKILL does not, and the children die with their parent.

        Args:
            sig: Signal for the main process.
            wait: Seconds to wait for every keepalived process of the node to exit.

        Raises:
            TimeoutError: keepalived processes were still alive after ``wait``.
        """
        pid = self.keepalived_main_pid()
        if pid is not None:
            procs.send_signal(pid, sig)
        procs.wait_until(
            lambda: not self.keepalived_running(),
            timeout=wait,
            interval=0.05,
            what=f"keepalived on {self.name} to exit",
        )
