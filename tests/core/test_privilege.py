"""Root trusts only root: what kakit refuses when a non-root user could change what it uses.

Each case is an attack a local user could mount on a load balancer where kakit runs as root:
a configuration, program, secret or directory they can write, or a symlink where root writes.
Root must refuse (exit 2, one line naming the path and the owner or mode at fault) or not follow.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from kakit.core.fsutil import atomic_write
from kakit.core.log import Logger
from tests.conftest import config_text, kacheck_path
from tests.kanotify.test_cli import kanotify_path

NOBODY = 65534

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the refusals apply to root")


def run(tool: str, *args: str) -> subprocess.CompletedProcess[str]:
    """An installed tool, as keepalived runs it (no terminal)."""
    return subprocess.run(
        [tool, *args], capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL
    )


def private_dir(tmp_path: Path, name: str) -> Path:
    """A root-owned 0755 directory under the test's directory."""
    path = tmp_path / name
    path.mkdir(mode=0o755)
    return path


@pytest.fixture(name="hook_script")
def _hook_script(tmp_path: Path) -> Callable[[Path], Path]:
    """Write a run-hook program that leaves a marker file; returns its path."""

    def make(where: Path) -> Path:
        script = where / "promote"
        script.write_text(f"#!/bin/sh\ntouch {tmp_path}/ran\n")
        script.chmod(0o755)
        return script

    return make


class TestConfigurationFile:
    """The configuration names what root runs: only root may change it."""

    @pytest.mark.parametrize(
        ("owner", "mode", "fault"),
        [
            (NOBODY, 0o644, "is owned by nobody (uid 65534), not root"),
            (0, 0o666, "is writable by everyone (mode 0666)"),
        ],
    )
    def test_kacheck_and_kanotify_refuse_it(
        self, tmp_path: Path, owner: int, mode: int, fault: str
    ) -> None:
        """A config a user owns or can write: exit 2 naming the file and what is wrong, nothing run."""
        config = tmp_path / "kakit.yaml"
        config.write_text(
            config_text(
                tmp_path,
                f"checks:\n  x: {{type: command, argv: [/bin/sh, -c, 'touch {tmp_path}/ran']}}\n",
            )
        )
        os.chown(config, owner, 0)
        config.chmod(mode)
        for tool, args in (
            (kacheck_path(), ("x",)),
            (kanotify_path(), ("INSTANCE", "VI_1", "MASTER", "100")),
        ):
            result = run(tool, "-c", str(config), *args)
            assert result.returncode == 2, result.stderr
            assert f"refusing configuration file {config}: {config} {fault}" in result.stderr
        assert not (tmp_path / "ran").exists()

    def test_directory_above_it(self, tmp_path: Path) -> None:
        """A config inside a directory a user owns is refused too (they can swap the file)."""
        user_dir = private_dir(tmp_path, "etc")
        os.chown(user_dir, NOBODY, NOBODY)
        config = user_dir / "kakit.yaml"
        config.write_text(config_text(tmp_path, ""))
        result = run(kacheck_path(), "-c", str(config), "flag")
        assert result.returncode == 2
        assert f"{user_dir} is owned by nobody (uid 65534), not root" in result.stderr


class TestPrograms:
    """A program root runs must not be replaceable by anyone else."""

    def test_run_hook_in_user_directory(
        self, tmp_path: Path, hook_script: Callable[[Path], Path]
    ) -> None:
        """kanotify refuses hooks that run a user's program: exit 2, nothing applied or queued."""
        user_bin = private_dir(tmp_path, "bin")
        os.chown(user_bin, NOBODY, NOBODY)
        script = hook_script(user_bin)
        config = tmp_path / "kakit.yaml"
        config.write_text(config_text(tmp_path, f"states:\n  MASTER: {{run: [[{script}]]}}\n"))
        result = run(kanotify_path(), "-c", str(config), "INSTANCE", "VI_1", "MASTER", "100")
        assert result.returncode == 2
        assert (
            f"states.MASTER.run: refusing to run {script}: {user_bin} is owned by nobody"
            in result.stderr
        )
        assert not (tmp_path / "ran").exists()
        assert not (tmp_path / "lib" / "outbox.sqlite").exists()

    def test_restart_command_writable_by_group(self, tmp_path: Path) -> None:
        """kacheck refuses a service whose restart command a non-root group can write."""
        restart = tmp_path / "restart-web"
        restart.write_text("#!/bin/sh\n")
        os.chown(restart, 0, NOBODY)
        restart.chmod(0o775)
        config = tmp_path / "kakit.yaml"
        config.write_text(
            config_text(
                tmp_path,
                f"checks:\n  web: {{type: service, service: web, restart_command: [{restart}]}}\n",
            )
        )
        result = run(kacheck_path(), "-c", str(config), "web")
        assert result.returncode == 2
        assert f"refusing to run {restart}: {restart} is writable by group" in result.stderr


class TestSecretsAndDirectories:
    """Secret files and the directories kakit writes in are root's alone."""

    def test_secret_file_owned_by_user(self, tmp_path: Path) -> None:
        """A secret file a user owns is refused when it would be read, naming its owner."""
        secret = tmp_path / "ding.secret"
        secret.write_text("SEC0123\n")
        os.chown(secret, NOBODY, NOBODY)
        config = tmp_path / "kakit.yaml"
        config.write_text(
            config_text(
                tmp_path,
                "channels:\n"
                f"  hook: {{type: webhook, url: {{file: {secret}}}}}\n"
                "alerts: [{channels: [hook]}]\n",
            )
        )
        result = run(
            str(Path(kacheck_path()).with_name("kakit")), "config", "check", "-c", str(config)
        )
        assert result.returncode == 2
        assert f"refusing secret file {secret}: {secret} is owned by nobody" in result.stderr

    def test_state_dir_owned_by_user(self, tmp_path: Path) -> None:
        """A state directory a user owns (they could delete a latch): exit 2 naming it."""
        state = private_dir(tmp_path, "run")
        os.chown(state, NOBODY, NOBODY)
        config = tmp_path / "kakit.yaml"
        config.write_text(config_text(tmp_path, ""))
        result = run(kacheck_path(), "-c", str(config), "flag", str(tmp_path / "down"))
        assert result.returncode == 2
        assert (
            f"refusing state directory (paths.state_dir) {state}: {state} is owned by nobody"
            in (result.stderr)
        )

    def test_untrusted_config_cache_is_not_read(self, tmp_path: Path) -> None:
        """A config cache directory a user can write is ignored (unpickling runs code)."""
        cache = private_dir(tmp_path, "cache")
        cache.chmod(0o777)
        config = tmp_path / "kakit.yaml"
        config.write_text(config_text(tmp_path, ""))
        env = {**os.environ, "KAKIT_CONFIG_CACHE": str(cache)}
        result = subprocess.run(
            [kacheck_path(), "-c", str(config), "flag", str(tmp_path / "down")],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        assert list(cache.iterdir()) == []


class TestSymlinks:
    """Never follow a symlink at the last component of a file root writes."""

    def test_atomic_write_replaces_a_planted_symlink(self, tmp_path: Path) -> None:
        """A symlink planted at the destination is replaced; the file it pointed to is untouched."""
        victim = tmp_path / "victim"
        victim.write_text("original\n")
        track = tmp_path / "track"
        track.symlink_to(victim)
        atomic_write(str(track), "1\n")
        assert victim.read_text() == "original\n"
        assert not track.is_symlink() and track.read_text() == "1\n"

    def test_log_file_symlink_not_followed(self, tmp_path: Path) -> None:
        """A symlink in the log file's place is not written through."""
        victim = tmp_path / "victim"
        victim.write_text("original\n")
        log = tmp_path / "kakit.log"
        log.symlink_to(victim)
        logger = Logger()
        logger.configure(file=str(log), syslog=False, stderr=False)
        logger.error("a line")
        assert victim.read_text() == "original\n"
