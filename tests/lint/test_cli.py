"""``kakit lint`` as a user runs it: output lines, JSON, exit statuses, and any input read."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kakit.cli import kakit
from tests.lint.helpers import GLOBAL, instance, write

LONG_PASS = "    authentication {\n        auth_type PASS\n        auth_pass 1234567890\n    }\n"


class TestOutput:
    """Each finding is a `file:line: severity rule: message` line with its fix."""

    def test_text_line_and_fix(self, runner: CliRunner, tmp_path: Path) -> None:
        """A long auth_pass is reported at its own line, with the fix under it; exit 1."""
        path = write(tmp_path, GLOBAL + instance(body=LONG_PASS))
        result = runner.invoke(kakit, ["lint", str(path)])
        assert result.exit_code == 1
        lines = result.output.splitlines()
        assert lines[0].startswith(f"{path}:15: warning auth-pass-length: VI_1: auth_pass is 10")
        assert lines[1].startswith("    fix: write the 8 characters")

    def test_json_is_the_same_data(self, runner: CliRunner, tmp_path: Path) -> None:
        """--format json gives the same finding as fields."""
        path = write(tmp_path, GLOBAL + instance(body=LONG_PASS))
        result = runner.invoke(kakit, ["lint", "--format", "json", str(path)])
        (finding,) = json.loads(result.output)
        assert finding["rule"] == "auth-pass-length"
        assert (finding["file"], finding["line"], finding["severity"]) == (str(path), 15, "warning")
        assert finding["fix"]

    def test_weight_table_printed(self, runner: CliRunner, tmp_path: Path) -> None:
        """Master 150 with weight -30 against 100: each node's priority per failure is printed."""
        chk = tmp_path / "chk"
        chk.write_text("#!/bin/sh\n")
        chk.chmod(0o755)
        tmp_path.chmod(0o755)
        script = f'vrrp_script chk {{\n    script "{chk}"\n    weight -30\n}}\n'
        track = "    track_script {\n        chk\n    }\n"
        mine = write(tmp_path, GLOBAL + script + instance(priority=150, body=track), "a.conf")
        peer = write(tmp_path, GLOBAL + instance(priority=100), "b.conf")
        result = runner.invoke(kakit, ["lint", str(mine), "--peer", str(peer)])
        assert "warning weights: VI_1: this node is MASTER at 150" in result.output
        assert "script:chk (150 -> 120)" in result.output
        rows = [line.split() for line in result.output.splitlines() if "this:script:chk" in line]
        assert rows == [["this:script:chk", "120", "100", "this"]]


class TestExitStatus:
    """0 clean, 1 at or above --fail-on, 2 unreadable."""

    def test_clean_is_zero(self, runner: CliRunner, tmp_path: Path) -> None:
        """A file with nothing to say exits 0."""
        result = runner.invoke(kakit, ["lint", str(write(tmp_path, GLOBAL + instance()))])
        assert (result.exit_code, result.output.splitlines()[-1]) == (
            0,
            "0 error(s), 0 warning(s), 0 info",
        )

    def test_fail_on_error_ignores_warnings(self, runner: CliRunner, tmp_path: Path) -> None:
        """A warning alone exits 0 with --fail-on error."""
        path = write(tmp_path, GLOBAL + instance(body=LONG_PASS))
        assert runner.invoke(kakit, ["lint", "--fail-on", "error", str(path)]).exit_code == 0

    def test_missing_file_is_two(self, runner: CliRunner, tmp_path: Path) -> None:
        """A file that does not exist: one line, exit 2, no traceback."""
        result = runner.invoke(kakit, ["lint", str(tmp_path / "nope.conf")])
        assert result.exit_code == 2
        assert (
            result.output.strip()
            == f"Error: {tmp_path / 'nope.conf'}: cannot read: No such file or directory"
        )

    def test_permission_is_not_called_missing(
        self, runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A file this user may not look at (as nobody: under /root) is "Permission denied"."""
        target = str(tmp_path / "private" / "keepalived.conf")
        real_stat = os.stat

        def stat(path: object, *args: object, **kwargs: object) -> os.stat_result:
            if str(path) == target:
                raise PermissionError(13, "Permission denied", target)
            return real_stat(path, *args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(os, "stat", stat)
        result = runner.invoke(kakit, ["lint", target])
        assert (result.exit_code, result.output) == (
            2,
            f"Error: {target}: cannot read: Permission denied\n",
        )

    def test_directory_peer_is_two(self, runner: CliRunner, tmp_path: Path) -> None:
        """A --peer that is a directory: exit 2."""
        path = write(tmp_path, GLOBAL + instance())
        result = runner.invoke(kakit, ["lint", str(path), "--peer", str(tmp_path)])
        assert result.exit_code == 2
        assert "not a regular file" in result.output

    def test_peer_that_is_the_file_itself_is_two(self, runner: CliRunner, tmp_path: Path) -> None:
        """--peer naming the same file (even through a symlink) is a usage error, not a pair."""
        path = write(tmp_path, GLOBAL + instance())
        (tmp_path / "link.conf").symlink_to(path)
        result = runner.invoke(kakit, ["lint", str(path), "--peer", str(tmp_path / "link.conf")])
        assert result.exit_code == 2
        assert result.output == (
            f"Error: --peer {tmp_path / 'link.conf'} is {path} itself: give the other node's\n"
        )

    def test_executable_file_is_two(self, runner: CliRunner, tmp_path: Path) -> None:
        """An executable keepalived.conf, which keepalived 2.2.7 skips, is one line and exit 2."""
        path = write(tmp_path, GLOBAL + instance())
        path.chmod(0o755)
        result = runner.invoke(kakit, ["lint", str(path)])
        assert result.exit_code == 2
        assert result.output == f"Error: {path}: {path} is executable: keepalived skips it\n"

    def test_invalid_kakit_yaml_is_two(self, runner: CliRunner, tmp_path: Path) -> None:
        """-c naming an invalid kakit.yaml: exit 2."""
        path = write(tmp_path, GLOBAL + instance())
        bad = write(tmp_path, "version: [\n", "kakit.yaml")
        assert runner.invoke(kakit, ["lint", str(path), "-c", str(bad)]).exit_code == 2


WORDS = [
    "{",
    "}",
    "\n",
    " ",
    '"',
    "#",
    "!",
    "include ",
    "vrrp_instance ",
    "virtual_ipaddress ",
    "priority ",
    "track_script ",
    "weight ",
    "-30 ",
    "vrrp_script ",
    "script ",
    "lb_kind DR ",
    "virtual_server ",
    "real_server ",
    "10.0.0.1 ",
    "unicast_peer ",
    "vrrp_strict ",
    "global_defs ",
    "state MASTER ",
    "auth_pass ",
    "track_file ",
    "*",
    "{a,b}",
    "\u00a0",
    "\u3000",
    "/",
]


class TestAnyInput:
    """No file makes lint crash: every outcome is findings (0/1) or one line (2)."""

    @settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
    @given(
        st.lists(st.one_of(st.sampled_from(WORDS), st.text(max_size=6)), max_size=60),
        st.lists(st.one_of(st.sampled_from(WORDS), st.text(max_size=6)), max_size=40),
    )
    def test_any_pair_of_files(self, tmp_path_factory, pieces: list[str], peer: list[str]) -> None:
        """Any two files lint with exit 0 or 1 and JSON output that parses."""
        directory = tmp_path_factory.mktemp("fuzz")
        mine = directory / "a.conf"
        other = directory / "b.conf"
        mine.write_text("".join(pieces), encoding="utf-8", errors="surrogatepass")
        other.write_text("".join(peer), encoding="utf-8", errors="surrogatepass")
        result = CliRunner().invoke(
            kakit, ["lint", "--format", "json", str(mine), "--peer", str(other)]
        )
        assert result.exception is None or isinstance(result.exception, SystemExit)
        assert result.exit_code in (0, 1), result.output
        assert isinstance(json.loads(result.output), list)


class TestConfigCheckPointsToLint:
    """`kakit config check -c keepalived.conf` says what the file is and what to run."""

    def test_keepalived_conf_is_recognised(self, runner: CliRunner, tmp_path: Path) -> None:
        """Not "invalid YAML": the file is named a keepalived.conf and `kakit lint` suggested."""
        path = write(tmp_path, GLOBAL + instance())
        result = runner.invoke(kakit, ["config", "check", "-c", str(path)])
        assert result.exit_code == 2
        assert (
            f"is a keepalived.conf, not a kakit.yaml: check it with `kakit lint {path}`"
            in result.output
        )
        assert "invalid YAML" not in result.output
