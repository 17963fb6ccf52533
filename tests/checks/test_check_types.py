"""Every check type, driven from one table against real local resources.

Each case names a check configuration, what to set up (files, a listening socket, an HTTP
server answering a given status) and the verdict and summary the check must report.
"""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from kakit.config import Config
from kakit.kacheck.runner import CheckRunner


class Resources:
    """Local things a check can look at, created per test."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp = tmp_path
        self.http_status = 200
        self.http_body = b"hello from kakit tests"
        self.seen_hosts: list[str] = []
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.open_port = self.listener.getsockname()[1]
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.closed_port = probe.getsockname()[1]
        probe.close()
        resources = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                resources.seen_hosts.append(self.headers.get("Host", ""))
                self.send_response(resources.http_status)
                self.send_header("Content-Length", str(len(resources.http_body)))
                self.end_headers()
                self.wfile.write(resources.http_body)

            def log_message(self, *args: object) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.http_port = self.http.server_address[1]
        self.thread = threading.Thread(
            target=self.http.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()
        self.sleeper = subprocess.Popen(["sleep", "60"])
        # Until the child has exec'd, /proc shows it as a copy of this Python: wait for the
        # name the process check looks for (a busy machine can take a while to get there).
        comm = Path(f"/proc/{self.sleeper.pid}/comm")
        deadline = time.monotonic() + 10
        while comm.read_text().strip() != "sleep" and time.monotonic() < deadline:
            time.sleep(0.01)

    def close(self) -> None:
        self.http.shutdown()
        self.http.server_close()
        self.listener.close()
        self.sleeper.kill()
        self.sleeper.wait()

    def substitute(self, text: str) -> str:
        return (
            text.replace("TMP", str(self.tmp))
            .replace("OPEN_PORT", str(self.open_port))
            .replace("CLOSED_PORT", str(self.closed_port))
            .replace("HTTP_PORT", str(self.http_port))
        )


@pytest.fixture(name="resources")
def _resources(tmp_path: Path) -> Iterator[Resources]:
    found = Resources(tmp_path)
    try:
        yield found
    finally:
        found.close()


def _touch(path: str, text: str = "", age: float = 0.0) -> Callable[[Resources], None]:
    def setup(res: Resources) -> None:
        target = Path(res.substitute(path))
        target.write_text(text)
        if age:
            stamp = time.time() - age
            os.utime(target, (stamp, stamp))

    return setup


def _http(status: int) -> Callable[[Resources], None]:
    def setup(res: Resources) -> None:
        res.http_status = status

    return setup


CASES = [
    # id, check settings (YAML flow mapping), setup, expected ok, expected summary (substring)
    ("flag-absent", "{type: flag, path: TMP/down}", None, True, "no maintenance flag TMP/down"),
    (
        "flag-present",
        "{type: flag, path: TMP/down}",
        _touch("TMP/down", "kernel upgrade, back at 3\n"),
        False,
        "maintenance flag TMP/down present: kernel upgrade, back at 3",
    ),
    (
        "file-present",
        "{type: file, path: TMP/ready}",
        _touch("TMP/ready"),
        True,
        "TMP/ready present",
    ),
    ("file-missing", "{type: file, path: TMP/ready}", None, False, "TMP/ready is missing"),
    (
        "file-stale",
        "{type: file, path: TMP/beat, max_age: 30}",
        _touch("TMP/beat", age=120),
        False,
        "TMP/beat is stale: modified 12",
    ),
    (
        "file-fresh",
        "{type: file, path: TMP/beat, max_age: 30}",
        _touch("TMP/beat"),
        True,
        "TMP/beat fresh",
    ),
    (
        "file-must-be-absent",
        "{type: file, path: TMP/x, present: false}",
        _touch("TMP/x"),
        False,
        "TMP/x exists but must not",
    ),
    (
        "tcp-open",
        "{type: tcp, port: OPEN_PORT}",
        None,
        True,
        "tcp 127.0.0.1:OPEN_PORT accepts connections",
    ),
    (
        "tcp-closed",
        "{type: tcp, port: CLOSED_PORT}",
        None,
        False,
        "tcp 127.0.0.1:CLOSED_PORT: Connection refused",
    ),
    (
        "http-200",
        "{type: http, port: HTTP_PORT}",
        None,
        True,
        "GET http://127.0.0.1:HTTP_PORT/: 200",
    ),
    (
        "http-503",
        "{type: http, port: HTTP_PORT}",
        _http(503),
        False,
        "GET http://127.0.0.1:HTTP_PORT/: status 503, expected 200-299",
    ),
    (
        "http-503-accepted",
        "{type: http, port: HTTP_PORT, status_code: '200-299 503'}",
        _http(503),
        True,
        ": 503",
    ),
    (
        "http-body-mismatch",
        "{type: http, port: HTTP_PORT, contains: welcome}",
        None,
        False,
        "but body lacks 'welcome'",
    ),
    ("http-body-match", "{type: http, port: HTTP_PORT, contains: kakit}", None, True, ": 200"),
    (
        "http-refused",
        "{type: http, port: CLOSED_PORT}",
        None,
        False,
        "GET http://127.0.0.1:CLOSED_PORT/: ConnectError",
    ),
    ("command-true", "{type: command, argv: [/bin/true]}", None, True, "`/bin/true` exited 0"),
    (
        "command-false",
        "{type: command, argv: [sh, -c, 'echo db is read-only >&2; exit 3']}",
        None,
        False,
        "exited 3: db is read-only",
    ),
    (
        "command-timeout",
        "{type: command, argv: [sleep, '5'], timeout: 0.3}",
        None,
        False,
        "`sleep 5` timed out after 0.3 s (process group killed)",
    ),
    (
        "command-missing",
        "{type: command, argv: [/nonexistent/check]}",
        None,
        False,
        "cannot run /nonexistent/check: No such file or directory",
    ),
    ("process-running", "{type: process, name: sleep}", None, True, "sleep running (pid "),
    (
        "process-missing",
        "{type: process, name: kakit-no-such}",
        None,
        False,
        "no kakit-no-such process in this network namespace",
    ),
    (
        "probes-all-pass",
        "{probes: [{type: tcp, port: OPEN_PORT}, {type: command, argv: [/bin/true]}]}",
        None,
        True,
        "accepts connections; `/bin/true` exited 0",
    ),
    (
        "probes-first-failure-decides",
        "{probes: [{type: tcp, port: CLOSED_PORT}, {type: command, argv: [/bin/true]}]}",
        None,
        False,
        "tcp 127.0.0.1:CLOSED_PORT: Connection refused",
    ),
    (
        "gateway-loopback",
        "{type: gateway, target: 127.0.0.1, count: 5}",
        None,
        True,
        "gateway 127.0.0.1: 5/5 replies, 0% loss",
    ),
]


class TestCheckTypes:
    """Each check type reports the right verdict and a summary that says what it saw."""

    @pytest.mark.parametrize(
        ("settings", "setup", "ok", "summary"),
        [case[1:] for case in CASES],
        ids=[case[0] for case in CASES],
    )
    def test_case(
        self,
        resources: Resources,
        make_config: Callable[[str], Config],
        settings: str,
        setup: Callable[[Resources], None] | None,
        ok: bool,
        summary: str,
    ) -> None:
        """The check's verdict and summary match the table."""
        if setup is not None:
            setup(resources)
        config = make_config(f"checks:\n  subject: {resources.substitute(settings)}\n")
        runner = CheckRunner(config, config.check("subject"))
        runner.prepare()
        state = runner.load_state()
        got_ok, got_summary = runner.run_once(state)
        assert (got_ok, resources.substitute(summary) in got_summary) == (ok, True), got_summary

    def test_virtualhost_header(
        self, resources: Resources, make_config: Callable[[str], Config]
    ) -> None:
        """The http check sends the configured Host header."""
        config = make_config(
            f"checks:\n  web: {{type: http, port: {resources.http_port}, virtualhost: www.example.test}}\n"
        )
        runner = CheckRunner(config, config.check("web"))
        runner.prepare()
        assert runner.run_once(runner.load_state())[0]
        assert resources.seen_hosts == ["www.example.test"]
