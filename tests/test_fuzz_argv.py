"""No command line crashes kakit: fuzzed argv of kanotify and kacheck.

keepalived passes whatever its configuration holds, byte for byte, and an operator types the
rest. Whatever arrives, the tools answer with an exit code of 0, 1 or 2 and never a traceback,
and kanotify applies and records nothing when it answers 2.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from kakit.core.events import STATES
from kakit.kacheck import cli as kacheck_cli
from kakit.kanotify import cli as kanotify_cli
from tests.conftest import config_text

#: Raw argv words, as the kernel hands them to Python (undecodable bytes become surrogates).
raw_word = st.binary(max_size=12).map(os.fsdecode)
#: Words keepalived really sends, mixed with near misses.
notify_word = st.sampled_from(
    [
        "INSTANCE",
        "GROUP",
        "VI_1",
        "MASTER",
        "BACKUP",
        "FAULT",
        "STOP",
        "DELETED",
        "100",
        "-1",
        "256",
        "0",
        "",
        "--",
        "-c",
        "--instance",
        "--group",
        "test",
        "master",
        "٣",
        "1_0",
        "+5",
    ]
)
word = st.one_of(raw_word, notify_word)

FUZZ = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture(name="notify_config")
def _notify_config(tmp_path: Path) -> Iterator[Path]:
    """A configuration with a run hook that records every application."""
    script = tmp_path / "hook.sh"
    script.write_text(f"#!/bin/sh\necho applied >> {tmp_path}/applied\n")
    script.chmod(0o755)
    states = "".join(f"  {state}: {{run: [[{script}]]}}\n" for state in STATES)
    config = tmp_path / "kakit.yaml"
    config.write_text(config_text(tmp_path, "states:\n" + states))
    yield config


def recorded(tmp_path: Path) -> int:
    """Events in the test's outbox."""
    path = tmp_path / "lib" / "outbox.sqlite"
    if not path.exists():
        return 0
    with sqlite3.connect(path) as db:
        return int(db.execute("SELECT COUNT(*) FROM events").fetchone()[0])


def applied(tmp_path: Path) -> int:
    """Hook applications so far."""
    path = tmp_path / "applied"
    return len(path.read_text().splitlines()) if path.exists() else 0


class TestKanotifyArgv:
    """kanotify's command line, fuzzed."""

    @FUZZ
    @given(words=st.lists(word, max_size=7))
    def test_exit_code_and_nothing_applied_on_2(
        self, notify_config: Path, tmp_path: Path, words: list[str]
    ) -> None:
        """Any argv: exit 0, 1 or 2; on 2 no hook ran and no event was recorded."""
        before = (recorded(tmp_path), applied(tmp_path))
        code = kanotify_cli.run(["-c", str(notify_config), *words])
        assert code in (0, 1, 2)
        if code == 2:
            assert (recorded(tmp_path), applied(tmp_path)) == before

    @FUZZ
    @given(name=raw_word.filter(bool), state=st.sampled_from(["MASTER", "BACKUP"]))
    def test_any_instance_name_is_applied_and_logged(
        self, notify_config: Path, tmp_path: Path, name: str, state: str
    ) -> None:
        """A well-formed tail with any bytes as the name is applied, recorded and logged."""
        before = (recorded(tmp_path), applied(tmp_path))
        code = kanotify_cli.run(["-c", str(notify_config), "INSTANCE", name, state, "100"])
        assert code == 0
        assert recorded(tmp_path) == before[0] + 1
        log = (tmp_path / "kakit.log").read_bytes()
        assert log.decode("utf-8").count("\n") == log.count(b"\n")  # valid UTF-8, one per line


class TestKacheckArgv:
    """kacheck's command line, fuzzed (checks that act on the host are left out)."""

    ACTING = frozenset({"nginx", "httpd", "apache2", "gateway", "--watch"})

    @FUZZ
    @given(
        words=st.lists(
            st.one_of(
                raw_word,
                st.sampled_from(
                    [
                        "flag",
                        "-c",
                        "--config",
                        "-v",
                        "--interval",
                        "nan",
                        "inf",
                        "-1",
                        "1e999",
                        "--cycles",
                        "--track-file",
                        "--fail-value",
                        "--",
                        "-h",
                        "/etc/keepalived/down",
                        "x",
                    ]
                ),
            ),
            max_size=6,
        )
    )
    def test_exit_code(self, tmp_path: Path, words: list[str]) -> None:
        """Any argv: exit 0, 1 or 2, never an exception."""
        assume(not self.ACTING & set(words))
        config = tmp_path / "empty.yaml"
        config.write_text(config_text(tmp_path, ""))
        code = kacheck_cli.run(["-c", str(config), *words])
        assert code in (0, 1, 2)
