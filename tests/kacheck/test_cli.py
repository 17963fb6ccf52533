"""Specification of the kacheck command line as keepalived sees it: exit codes and log lines."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from kakit import __version__
from tests.conftest import kacheck_path

RunKacheck = Callable[..., subprocess.CompletedProcess[str]]


class TestExitCodes:
    """0 healthy, 1 unhealthy, 2 usage or configuration error."""

    def test_healthy_and_unhealthy(
        self,
        tmp_path: Path,
        run_kacheck: RunKacheck,
        write_config: Callable[[str], Path],
        read_log: Callable[[], list[str]],
    ) -> None:
        """A flag check exits 0 without the file and 1 with it, logging one line per run."""
        config = write_config(f"checks:\n  maint: {{type: flag, path: {tmp_path}/down}}\n")
        assert run_kacheck("-c", str(config), "maint").returncode == 0
        (tmp_path / "down").write_text("disk swap\n")
        assert run_kacheck("-c", str(config), "maint").returncode == 1
        lines = read_log()
        assert len(lines) == 2
        assert lines[0].endswith(f"info: maint: OK: no maintenance flag {tmp_path}/down")
        assert lines[1].endswith(
            f"warning: maint: FAIL: maintenance flag {tmp_path}/down present: disk swap"
            " (was OK for 0 s, 1 run)"
        )

    def test_path_argument_overrides_flag(self, tmp_path: Path, run_kacheck: RunKacheck) -> None:
        """`kacheck flag PATH` checks PATH with no configuration file at all."""
        flag = tmp_path / "down"
        env = {"KAKIT_CONFIG": str(tmp_path / "k.yaml")}
        (tmp_path / "k.yaml").write_text(
            f"version: 1\npaths: {{state_dir: {tmp_path}/run, data_dir: {tmp_path}/lib}}\nlog: {{syslog: false}}\n"
        )
        assert run_kacheck("flag", str(flag), env=env).returncode == 0
        flag.touch()
        assert run_kacheck("flag", str(flag), env=env).returncode == 1

    @pytest.mark.parametrize(
        ("args", "message"),
        [
            ((), "kacheck: missing the check NAME (see kacheck --help)"),
            (("--bogus", "x"), "kacheck: unknown option '--bogus' (see kacheck --help)"),
            (("--watch", "nginx"), "kacheck: --watch needs --track-file PATH"),
            (("--interval", "soon", "nginx"), "kacheck: --interval: expected a number, got 'soon'"),
            *(
                (
                    ("--watch", "--interval", text, "flag", "--track-file", "/tmp/t"),
                    f"kacheck: --interval: expected a number, got {text!r}",
                )
                for text in ("nan", "inf", "-1", "1e3", "٣")
            ),
            (
                ("--watch", "--interval", "0.001", "flag", "--track-file", "/tmp/t"),
                "kacheck: --interval: must be between 0.01 and 3600, got '0.001'",
            ),
            (("a", "b", "c"), "kacheck: too many arguments: a b c"),
            (
                ("nginx", "/tmp/x"),
                "kacheck: check 'nginx' takes no PATH argument (only flag and file checks do)",
            ),
        ],
    )
    def test_usage_errors(
        self, run_kacheck: RunKacheck, args: tuple[str, ...], message: str
    ) -> None:
        """Usage errors exit 2 with one line on stderr."""
        result = run_kacheck(*args)
        assert (result.returncode, result.stderr.strip()) == (2, message)

    def test_several_config_errors_are_one_line(
        self, tmp_path: Path, run_kacheck: RunKacheck
    ) -> None:
        """Three errors: kacheck exits 2 with the first and the `kakit config check` command for
        the same file (a bare one would check the default file instead)."""
        path = tmp_path / "k.yaml"
        path.write_text("version: 1\nlog: {level: x}\nnode: 5\nchecks: {web: {type: tcp}}\n")
        result = run_kacheck("-c", str(path), "web")
        assert result.returncode == 2
        assert result.stderr.startswith(f"kacheck: {path}:2: log.level: expected one of")
        assert result.stderr.endswith(f" (and 2 more; run `kakit config check -c {path}`)\n")

    def test_a_stuck_syslog_daemon_does_not_hold_kacheck(
        self, tmp_path: Path, run_kacheck: RunKacheck
    ) -> None:
        """A syslog socket nobody reads (its buffer full): runs still end at once, and their
        lines land in the fallback file."""
        import socket

        stuck = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        stuck.bind(str(tmp_path / "log.sock"))
        try:
            path = tmp_path / "k.yaml"
            path.write_text(
                f"version: 1\npaths: {{state_dir: {tmp_path}/run, data_dir: {tmp_path}/lib}}\n"
                f"log: {{syslog_socket: {tmp_path}/log.sock, level: debug}}\n"
                f"checks: {{maint: {{type: flag, path: {tmp_path}/down}}}}\n"
            )
            filler = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            filler.setblocking(False)
            filler.connect(str(tmp_path / "log.sock"))
            try:
                while True:
                    filler.send(b"x" * 1024)
            except BlockingIOError:
                pass  # the daemon's buffer is full
            finally:
                filler.close()
            result = run_kacheck("-c", str(path), "maint")
            assert result.returncode == 0
            assert "maint: OK" in (tmp_path / "lib" / "kakit.log").read_text()
        finally:
            stuck.close()

    def test_logs_without_syslog_go_to_the_data_directory(
        self, tmp_path: Path, run_kacheck: RunKacheck
    ) -> None:
        """No syslog socket and no log.file: the line is in <data_dir>/kakit.log, mode 0600."""
        path = tmp_path / "k.yaml"
        path.write_text(
            f"version: 1\npaths: {{state_dir: {tmp_path}/run, data_dir: {tmp_path}/lib}}\n"
            f"log: {{syslog_socket: {tmp_path}/no-socket}}\n"
            f"checks: {{maint: {{type: flag, path: {tmp_path}/down}}}}\n"
        )
        assert run_kacheck("-c", str(path), "maint").returncode == 0
        fallback = tmp_path / "lib" / "kakit.log"
        assert fallback.read_text().endswith(
            f"info: maint: OK: no maintenance flag {tmp_path}/down\n"
        )
        assert fallback.stat().st_mode & 0o777 == 0o600

    def test_config_error_exits_2(self, tmp_path: Path, run_kacheck: RunKacheck) -> None:
        """A broken configuration exits 2 and names file, line and key."""
        path = tmp_path / "k.yaml"
        path.write_text("version: 1\nchecks:\n  web: {type: tcp, prot: 80}\n")
        result = run_kacheck("-c", str(path), "web")
        assert result.returncode == 2
        assert (
            result.stderr.strip()
            == f"kacheck: {path}:3: checks.web.prot: unknown key (did you mean 'port'? allowed here: connect_timeout, deadline, fall, host, latch, on_failure, port, rise, type)"
        )

    def test_unknown_check(
        self, write_config: Callable[[str], Path], run_kacheck: RunKacheck
    ) -> None:
        """An unknown check name exits 2 and lists the known ones."""
        config = write_config("checks:\n  web: {type: tcp, port: 80}\n")
        result = run_kacheck("-c", str(config), "wbe")
        assert result.returncode == 2
        assert (
            "unknown check 'wbe'" in result.stderr
            and "known checks: apache2, flag, gateway, httpd, nginx, realserver, web"
            in result.stderr
        )

    def test_help(self, run_kacheck: RunKacheck) -> None:
        """--help prints usage and exits 0."""
        result = run_kacheck("--help")
        assert result.returncode == 0 and result.stdout.startswith("usage: kacheck")

    def test_version(self, run_kacheck: RunKacheck) -> None:
        """--version prints the tool and kakit's version and exits 0."""
        result = run_kacheck("--version")
        assert (result.returncode, result.stdout) == (0, f"kacheck (kakit) {__version__}\n")


class TestOverlap:
    """A copy started while the previous run still holds the lock answers the last result."""

    def test_answers_last_result_while_locked(
        self,
        tmp_path: Path,
        write_config: Callable[[str], Path],
        run_kacheck: RunKacheck,
        read_log: Callable[[], list[str]],
    ) -> None:
        """With the lock held, kacheck repeats the recorded verdict instead of probing again."""
        config = write_config(f"checks:\n  maint: {{type: flag, path: {tmp_path}/down}}\n")
        (tmp_path / "down").touch()
        assert run_kacheck("-c", str(config), "maint").returncode == 1
        (tmp_path / "down").unlink()  # now healthy, but the locked run must not look
        fd = os.open(tmp_path / "run" / "checks" / "maint.lock", os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            assert run_kacheck("-c", str(config), "maint").returncode == 1
        finally:
            os.close(fd)
        assert "previous run still in progress; repeating its result from" in read_log()[-1]
        assert run_kacheck("-c", str(config), "maint").returncode == 0


class TestLatch:
    """latch: true keeps a failed check failing until an operator clears it."""

    def test_latch_set_listed_and_cleared(
        self, tmp_path: Path, write_config: Callable[[str], Path], run_kacheck: RunKacheck
    ) -> None:
        """After one failure the check stays failed; `kakit latch clear` restores it."""
        config = write_config(
            f"checks:\n  maint: {{type: flag, path: {tmp_path}/down, latch: true}}\n"
        )
        (tmp_path / "down").touch()
        assert run_kacheck("-c", str(config), "maint").returncode == 1
        (tmp_path / "down").unlink()
        assert run_kacheck("-c", str(config), "maint").returncode == 1
        latch = json.loads((tmp_path / "lib" / "latches" / "maint").read_text())
        assert latch["reason"] == f"maintenance flag {tmp_path}/down present"
        kakit = str(Path(kacheck_path()).with_name("kakit"))
        listed = subprocess.run(
            [kakit, "latch", "list", "-c", str(config)], capture_output=True, text=True, check=True
        )
        assert listed.stdout.startswith("maint: latched since ")
        cleared = subprocess.run(
            [kakit, "latch", "clear", "maint", "-c", str(config)], capture_output=True, text=True
        )
        assert (cleared.returncode, cleared.stdout.strip()) == (
            0,
            "maint: latch cleared; restart budget reset",
        )
        assert run_kacheck("-c", str(config), "maint").returncode == 0
        again = subprocess.run(
            [kakit, "latch", "clear", "maint", "-c", str(config)], capture_output=True, text=True
        )
        assert again.returncode == 1


class TestEverySecondPath:
    """keepalived forks kacheck every interval: what it imports is what every run costs."""

    HEAVY = (
        "importlib.metadata",  # 35 ms: entry points are read only for a plugin's name
        "yaml",  # 25 ms: a warm configuration cache avoids it
        "json",
        "re",
        "typing",
        "dataclasses",
        "psutil",
        "asyncio",
        "httpx",
        "click",
        "logging",
        "socket",
        "subprocess",
    )

    @pytest.mark.parametrize("with_config", [False, True])
    def test_flag_imports_nothing_heavy(
        self, tmp_path: Path, write_config: Callable[[str], Path], with_config: bool
    ) -> None:
        """`kacheck flag` (a preset, or a configured check with the cache warm) stays light."""
        args = ["flag", str(tmp_path / "down")]
        if with_config:
            config = write_config(f"checks:\n  maint: {{type: flag, path: {tmp_path}/down}}\n")
            args = ["-c", str(config), "maint"]
        env = {k: v for k, v in os.environ.items() if k != "KAKIT_CONFIG"}
        # A first run fills the configuration cache, as the previous second's run would have.
        subprocess.run([kacheck_path(), *args], env=env, cwd=tmp_path, check=True)
        code = (
            "import sys\n"
            "from kakit.kacheck.cli import run\n"
            f"code = run({args!r})\n"
            f"print(code, sorted(m for m in {self.HEAVY!r} if m in sys.modules))\n"
        )
        out = subprocess.run(
            [str(Path(kacheck_path()).with_name("python")), "-c", code],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
            check=True,
        ).stdout
        assert out.split(" ", 1) == ["0", "[]\n"]
