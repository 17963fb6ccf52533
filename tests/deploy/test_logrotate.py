"""contrib/logrotate/kakit: logrotate accepts it, and kakit's log survives a rotation."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import config_text
from tests.deploy.conftest import ROOT
from tests.kanotify.test_cli import kanotify_path

CONF = ROOT / "contrib" / "logrotate" / "kakit"

pytestmark = [
    pytest.mark.skipif(not shutil.which("logrotate"), reason="needs logrotate (make deps)"),
    # logrotate refuses a configuration that someone other than root could change.
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root"),
]


def logrotate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["logrotate", *args], capture_output=True, text=True, timeout=30, check=False
    )


def test_logrotate_parses_the_contrib_file() -> None:
    """`logrotate -d` reads the file without an error."""
    done = logrotate("-d", "-s", os.devnull, str(CONF))
    assert done.returncode == 0, done.stderr
    assert "error" not in (done.stdout + done.stderr).lower()


def test_a_rotated_log_goes_on_in_a_new_file(tmp_path: Path) -> None:
    """After a forced rotation the next kakit line lands in a new kakit.log; the old lines are
    in kakit.log.1, none lost and none written to the rotated file."""
    logs = tmp_path / "log"
    logs.mkdir()
    conf = tmp_path / "logrotate.conf"
    conf.write_text(CONF.read_text().replace("/var/log/kakit/", f"{logs}/"))
    config = tmp_path / "kakit.yaml"
    config.write_text(
        config_text(tmp_path, "").replace(f"{tmp_path}/kakit.log", f"{logs}/kakit.log")
    )

    def notify(state: str) -> None:
        done = subprocess.run(
            [kanotify_path(), "-c", str(config), "INSTANCE", "VI_1", state, "100"],
            capture_output=True,
            timeout=30,
            check=False,
        )
        assert done.returncode == 0, done.stderr

    notify("BACKUP")
    done = logrotate("-f", "-s", str(tmp_path / "state"), str(conf))
    assert done.returncode == 0, done.stderr
    notify("MASTER")
    old, new = (logs / "kakit.log.1").read_text(), (logs / "kakit.log").read_text()
    assert "VI_1 BACKUP" in old and "VI_1 MASTER" not in old
    assert "VI_1 MASTER" in new and "VI_1 BACKUP" not in new
    assert oct((logs / "kakit.log").stat().st_mode & 0o777) == "0o640"
