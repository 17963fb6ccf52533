"""Specification of the kakit admin command line."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from kakit.cli import kakit


class TestConfigCheck:
    """`kakit config check` validates and prints the effective configuration."""

    def test_valid_config_prints_effective_settings(
        self, runner: CliRunner, write_config: Callable[[str], Path]
    ) -> None:
        """A valid file prints every check with its defaults filled in."""
        path = write_config("checks:\n  nginx: {port: 8080}\n")
        result = runner.invoke(kakit, ["config", "check", "-c", str(path)])
        assert result.exit_code == 0, result.output
        printed = yaml.safe_load(result.stdout)
        probe = printed["checks"]["nginx"]["probes"][0]
        assert (probe["type"], probe["service"], probe["port"], probe["restart"]["max"]) == (
            "service",
            "nginx",
            8080,
            2,
        )

    def test_invalid_config_exits_2_with_location(
        self, runner: CliRunner, write_config: Callable[[str], Path]
    ) -> None:
        """An invalid file exits 2 with file, line, key and value."""
        path = write_config("checks:\n  up: {type: gateway, count: many}\n")
        result = runner.invoke(kakit, ["config", "check", "-c", str(path)])
        assert result.exit_code == 2
        assert (
            f"Error: {path}:5: checks.up.count: expected an integer from 1 to 1000, got 'many'"
            in result.output
        )

    @pytest.mark.timeout(10)
    def test_fifo_is_one_line_not_a_hang(
        self, runner: CliRunner, write_config: Callable[[str], Path]
    ) -> None:
        """-c naming a FIFO nobody writes to: exit 2 at once, saying the file is empty."""
        fifo = write_config("").with_name("fifo.yaml")
        os.mkfifo(fifo, 0o600)
        result = runner.invoke(kakit, ["config", "check", "-c", str(fifo)])
        assert result.exit_code == 2
        assert "the configuration is empty" in result.output

    def test_latch_list_empty(self, runner: CliRunner, write_config: Callable[[str], Path]) -> None:
        """With nothing latched, `latch list` says so."""
        path = write_config("checks: {}\n")
        result = runner.invoke(kakit, ["latch", "list", "-c", str(path)])
        assert (result.exit_code, result.stdout.strip()) == (0, "no latched checks")

    def test_latch_list_says_what_it_read(
        self, runner: CliRunner, tmp_path: Path, write_config: Callable[[str], Path]
    ) -> None:
        """`latch list` names the configuration and the directories it read."""
        path = write_config("checks: {}\n")
        result = runner.invoke(kakit, ["latch", "list", "-c", str(path)])
        assert result.stderr.strip() == (
            f"# config {path}; latches in {tmp_path}/lib/latches; state in {tmp_path}/run"
        )

    def test_all_errors_each_located(
        self, runner: CliRunner, tmp_path: Path, write_config: Callable[[str], Path]
    ) -> None:
        """Three errors in three sections: three `Error: file:line: key: ...` lines, exit 2."""
        path = write_config(
            """\
            checks:
              up: {type: gateway, count: many}
            channels:
              hook: {type: webhook, url: "https://example.com/hook", timeout: forever}
            states:
              MASTER: {sysctl: 5}
            """
        )
        result = runner.invoke(kakit, ["config", "check", "-c", str(path)])
        assert result.exit_code == 2
        errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
        assert [line.split(": expected")[0] for line in errors] == [
            f"Error: {path}:5: checks.up.count",
            f"Error: {path}:7: channels.hook.timeout",
            f"Error: {path}:9: states.MASTER.sysctl",
        ]


class TestConfigCheckSecrets:
    """Secrets are masked when printed and proven readable."""

    def test_secrets_masked_and_missing_file_reported(
        self, runner: CliRunner, tmp_path: Path, write_config: Callable[[str], Path]
    ) -> None:
        """A secret file reference is printed as the reference; an unreadable one exits 2 naming it."""
        (tmp_path / "token").write_text("s3cr3t-token\n")
        path = write_config(
            f"""\
            channels:
              ding: {{type: dingtalk, url: {{file: {tmp_path}/token}}, secret_file: {tmp_path}/missing.secret}}
            alerts: [{{channels: [ding]}}]
            """
        )
        result = runner.invoke(kakit, ["config", "check", "-c", str(path)])
        assert result.exit_code == 2
        assert "s3cr3t-token" not in result.output
        assert f"{{file: {tmp_path}/token}}" in result.stdout
        assert (
            f"cannot read secret file {tmp_path}/missing.secret: No such file or directory"
            in result.output
        )

    def test_inline_secret_needs_private_file(
        self, runner: CliRunner, write_config: Callable[[str], Path]
    ) -> None:
        """An inline token in a group-readable file is refused; chmod 600 makes it acceptable."""
        path = write_config(
            """\
            channels:
              ding: {type: dingtalk, url: "https://oapi.dingtalk.com/robot/send?access_token=abc123"}
            alerts: [{channels: [ding]}]
            """
        )
        path.chmod(0o644)
        refused = runner.invoke(kakit, ["config", "check", "-c", str(path)])
        assert refused.exit_code == 2
        assert (
            "an inline secret in a file readable by group or others (mode 0644)" in refused.output
        )
        assert "abc123" not in refused.output
        path.chmod(0o600)
        accepted = runner.invoke(kakit, ["config", "check", "-c", str(path)])
        assert accepted.exit_code == 0, accepted.output
        assert "abc123" not in accepted.output and "url: '***'" in accepted.stdout


class TestConfigCheckPaths:
    """Paths that validate as absolute but can never be directories are reported."""

    def test_directory_under_a_device(
        self, runner: CliRunner, tmp_path: Path, write_config: Callable[[str], Path]
    ) -> None:
        """state_dir under /dev/null: exit 2 naming the key and the component that is no directory."""
        path = write_config("")
        path.write_text(
            path.read_text().replace(f"state_dir: {tmp_path}/run", "state_dir: /dev/null/x")
        )
        result = runner.invoke(kakit, ["config", "check", "-c", str(path)])
        assert result.exit_code == 2
        assert (
            "refusing state directory (paths.state_dir) /dev/null/x: /dev/null is not a directory,"
            " so /dev/null/x can never be one" in result.stderr
        )


class TestConfigCheckPrograms:
    """Programs the configuration makes root run are checked like keepalived checks scripts."""

    def test_unsafe_program_is_an_error_and_missing_a_warning(
        self, runner: CliRunner, tmp_path: Path, write_config: Callable[[str], Path]
    ) -> None:
        """A restart command in a world-writable directory is an error (exit 2) naming the
        directory and its mode; a missing run hook program is a warning."""
        shared = tmp_path / "shared"
        shared.mkdir()
        shared.chmod(0o777)
        restart = shared / "restart-web"
        restart.write_text("#!/bin/sh\n")
        restart.chmod(0o755)
        path = write_config(
            f"""\
            checks:
              web: {{type: service, service: web, restart_command: [{restart}], config_test: [/bin/true]}}
              db: {{type: command, argv: [sh, -c, 'exit 0']}}
            states:
              MASTER: {{run: [[/bin/true], [{tmp_path}/promote]]}}
            """
        )
        result = runner.invoke(kakit, ["config", "check", "-c", str(path)])
        assert result.exit_code == 2, result.output
        lines = result.stderr.splitlines()
        assert [line.split(" (anyone who")[0] for line in lines if line.startswith("Error:")] == [
            f"Error: {path}:5: checks.web.restart_command: refusing to run {restart}: "
            f"{shared} is writable by everyone (mode 0777)",
        ]
        assert [line for line in lines if line.startswith("Warning:")] == [
            f"Warning: {path}: states.MASTER.run: {tmp_path}/promote: not found",
        ]

    def test_safe_programs_give_no_warning(
        self, runner: CliRunner, write_config: Callable[[str], Path]
    ) -> None:
        """Root-owned programs in root-owned directories (and PATH lookups) pass silently."""
        path = write_config("checks:\n  db: {type: command, argv: [sh, -c, 'exit 0']}\n")
        result = runner.invoke(kakit, ["config", "check", "-c", str(path)])
        assert result.exit_code == 0 and "Warning" not in result.stderr


class TestConfigCheckLogs:
    """`config check` says where log lines go, trying the syslog socket live."""

    def test_no_syslog_socket_means_the_fallback_file(
        self, runner: CliRunner, tmp_path: Path, write_config: Callable[[str], Path]
    ) -> None:
        """A syslog socket that does not exist, no log.file: the data directory's kakit.log."""
        path = write_config("")
        missing = tmp_path / "no-such-socket"
        path.write_text(
            path.read_text().replace(
                f"file: {tmp_path}/kakit.log, syslog: false", f"syslog_socket: {missing}"
            )
        )
        result = runner.invoke(kakit, ["config", "check", "-c", str(path)])
        assert result.exit_code == 0, result.output
        assert (
            f"logs: {tmp_path}/lib/kakit.log (no {missing}: No such file or directory)"
            in result.stderr.splitlines()
        )


class TestStatus:
    """``kakit status``: what a person needs at 3 a.m., from the node's own records."""

    def test_instances_hooks_and_outbox(
        self, runner: CliRunner, write_config: Callable[[str], Path], tmp_path: Path
    ) -> None:
        """After the FIFO reader applied VI_1 MASTER: its state, its hooks' outcome, the outbox."""
        from kakit.config import load_config
        from kakit.kanotify.resident import LineHandler

        script = tmp_path / "noop.sh"
        script.write_text("#!/bin/sh\nexit 0\n")
        script.chmod(0o755)
        path = write_config(
            f"""
            states:
              MASTER: {{run: [[{script}]]}}
            channels:
              sink: {{type: webhook, url: {{env: NOWHERE_URL}}}}
            alerts: [{{channels: [sink]}}]
            """
        )
        handler = LineHandler(load_config(str(path), cache=False))
        handler.batch([b'INSTANCE "VI_1" MASTER 150'])
        handler.close()
        result = runner.invoke(kakit, ["status", "-c", str(path)])
        assert result.exit_code == 0, result.output
        lines = result.output.splitlines()
        assert lines[0].startswith("VI_1: MASTER since ") and lines[0].endswith(", priority 150")
        assert lines[1] == f"  hooks: run: `{script}` exited 0"
        assert "FIFO reader: not running" in lines
        assert "outbox sink: 1 waiting, oldest 0 s, 0 sent, 0 failed" in lines

    def test_a_priority_change_after_the_state_is_shown(
        self, runner: CliRunner, write_config: Callable[[str], Path]
    ) -> None:
        """keepalived lowered VI_1's priority after it became MASTER: status shows the new one."""
        from kakit.config import load_config
        from kakit.kanotify.resident import LineHandler

        path = write_config("states: {MASTER: {sysctl: {}}}\n")
        handler = LineHandler(load_config(str(path), cache=False))
        handler.batch([b'INSTANCE "VI_1" MASTER 150'])
        handler.batch([b'INSTANCE "VI_1" MASTER_PRIORITY 140'])
        handler.close()
        result = runner.invoke(kakit, ["status", "-c", str(path)])
        assert result.exit_code == 0, result.output
        first = result.output.splitlines()[0]
        assert first.startswith("VI_1: MASTER since ") and ", priority 140 since " in first

    def test_fresh_node(self, runner: CliRunner, write_config: Callable[[str], Path]) -> None:
        """Nothing applied, no outbox: said plainly, and no outbox is created."""
        path = write_config("")
        result = runner.invoke(kakit, ["status", "-c", str(path)])
        assert result.exit_code == 0, result.output
        assert result.output.splitlines()[0] == "no state applied yet (since boot)"
        assert "outbox: no alerts" in result.output
        assert not (path.parent / "lib" / "outbox.sqlite").exists()


def test_latch_clear_of_nothing_says_where_it_looked(
    runner: CliRunner, write_config: Callable[[str], Path]
) -> None:
    """A forgotten -c reads another configuration's latches: the answer names what it read."""
    path = write_config("")
    result = runner.invoke(kakit, ["latch", "clear", "web", "-c", str(path)])
    assert result.exit_code == 1
    assert result.output.strip() == (
        f"web: not latched (config {path}; latches in {path.parent}/lib/latches)"
    )


def test_config_check_refuses_a_read_only_data_directory(
    write_config: Callable[[str], Path],
) -> None:
    """A latch or alert that cannot be written is found by `config check`, not at 3 a.m."""
    import subprocess

    from tests.conftest import kacheck_path

    path = write_config("")
    lib = path.parent / "lib"
    lib.mkdir()
    kakit_program = str(Path(kacheck_path()).with_name("kakit"))
    result = subprocess.run(
        [
            "unshare",
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-ec",
            f"mount -t tmpfs -o ro,size=1m tmpfs {lib} && exec {kakit_program} config check -c {path}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert (
        f"Error: data directory (paths.data_dir) {lib}: on a read-only file system ({lib})"
        in result.stderr
    )
