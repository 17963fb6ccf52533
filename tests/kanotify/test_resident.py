"""Specification of the FIFO reader's batches: recorded first, hooks once per instance, in order."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

from kakit.config import Config
from kakit.core.entry import configure_logger
from kakit.kanotify.resident import LineHandler
from tests.kanotify.test_handle import recorder

COALESCE = 30


def config_with(
    make_config: Callable[[str], Config], script: Path, channels: bool = True
) -> Config:
    alerting = (
        """
        channels:
          sink: {type: webhook, url: {env: NOWHERE_URL}}
        alerts: [{channels: [sink]}]
        """
        if channels
        else ""
    )
    return make_config(
        f"""
        states:
          MASTER: {{run: [[{script}]]}}
          BACKUP: {{run: [[{script}]]}}
        outbox: {{coalesce: {COALESCE}s}}
        {alerting}
        """
    )


def rows(tmp_path: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(tmp_path / "lib" / "outbox.sqlite") as db:
        return db.execute(sql).fetchall()


def test_a_flap_inside_one_read_applies_its_end_once(
    tmp_path: Path, make_config: Callable[[str], Config]
) -> None:
    """BACKUP, MASTER, BACKUP of VI_1 and MASTER of VI_2 in one read: four events recorded,
    hooks run for VI_1's last change and VI_2's, in that order; the rest are superseded."""
    script, record = recorder(tmp_path)
    handler = LineHandler(config_with(make_config, script))
    handler.batch(
        [
            b'INSTANCE "VI_1" BACKUP 100',
            b'INSTANCE "VI_1" MASTER 100',
            b'INSTANCE "VI_1" BACKUP 90',
            b'INSTANCE "VI_2" MASTER 100',
        ]
    )
    handler.close()
    assert record.read_text().splitlines() == ["BACKUP 90", "MASTER 100"]
    events = rows(tmp_path, "SELECT name, state, priority, hooks FROM events ORDER BY id")
    assert [row[:3] for row in events] == [
        ("VI_1", "BACKUP", 100),
        ("VI_1", "MASTER", 100),
        ("VI_1", "BACKUP", 90),
        ("VI_2", "MASTER", 100),
    ]
    superseded = '["hooks skipped: BACKUP, read later in the same batch, was applied"]'
    assert [row[3] for row in events[:2]] == [superseded, superseded]
    assert rows(tmp_path, "SELECT DISTINCT status FROM messages") == [("pending",)]


def test_alerts_go_at_once_after_quiet_and_flaps_are_held(
    tmp_path: Path, make_config: Callable[[str], Config]
) -> None:
    """The first change of an instance is due at once; the changes right after it wait out
    ``coalesce`` to collapse into one message."""
    script, _ = recorder(tmp_path)
    handler = LineHandler(config_with(make_config, script))
    handler.batch([b'INSTANCE "VI_1" MASTER 100'])
    handler.batch([b'INSTANCE "VI_1" BACKUP 100', b'INSTANCE "VI_1" MASTER 100'])
    handler.close()
    delays = rows(
        tmp_path,
        "SELECT round(m.next_attempt - e.time) FROM messages m JOIN events e ON e.id = m.event_id ORDER BY e.id",
    )
    assert delays == [(0.0,), (COALESCE,), (COALESCE,)]


def test_priority_reports_and_bad_lines_apply_nothing(
    tmp_path: Path, make_config: Callable[[str], Config]
) -> None:
    """Reports and lines that are not keepalived's are counted, and neither hooks nor alerts."""
    script, record = recorder(tmp_path)
    handler = LineHandler(config_with(make_config, script))
    handler.batch([b'INSTANCE "VI_1" MASTER_PRIORITY 80', b"garbage", b"VS FWM 7 DOWN"])
    handler.close()
    assert not record.exists()
    assert (handler.reports, handler.refused, handler.lvs, handler.transitions) == (1, 1, 1, 0)
    assert 'kakit_fifo_lines_total{kind="refused"} 1' in handler.metrics.render()


def test_hooks_run_when_the_outbox_cannot_store(
    tmp_path: Path, make_config: Callable[[str], Config]
) -> None:
    """A corrupt outbox: the hooks still follow keepalived (alerting never blocks them)."""
    script, record = recorder(tmp_path)
    config = config_with(make_config, script, channels=False)
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "outbox.sqlite").write_bytes(b"this is not a database" * 100)
    configure_logger(config)
    handler = LineHandler(config)
    handler.batch([b'INSTANCE "VI_1" MASTER 100'])
    handler.close()
    assert record.read_text().splitlines() == ["MASTER 100"]
    assert "could not be stored" in (tmp_path / "kakit.log").read_text()
