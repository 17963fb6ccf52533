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
    """Reports, LVS lines and lines that are not keepalived's are counted and run no hook."""
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


def alerting(make_config: Callable[[str], Config], rules: str) -> Config:
    """No hooks; a sink channel and the given ``alerts`` rules."""
    return make_config(
        f"""
        channels:
          sink: {{type: webhook, url: {{env: NOWHERE_URL}}}}
        alerts: {rules}
        outbox: {{coalesce: {COALESCE}s}}
        """
    )


MESSAGES = (
    "SELECT e.kind, e.name, e.state, m.channel, round(m.next_attempt - e.time), m.status"
    " FROM events e LEFT JOIN messages m ON m.event_id = e.id ORDER BY e.id"
)


class TestLvsEvents:
    """keepalived's VS and RS lines become alerts naming the virtual and real servers."""

    def test_each_server_alerts_at_once_then_its_flaps_are_held(
        self, tmp_path: Path, make_config: Callable[[str], Config]
    ) -> None:
        """A rule without ``events`` takes LVS events: the first of each server is due at once,
        the same real server's next change within ``coalesce`` waits to collapse with it."""
        handler = LineHandler(alerting(make_config, "[{channels: [sink]}]"))
        handler.batch(
            [
                b"RS [10.213.0.2]:tcp:80 [10.213.0.10]:tcp:80 DOWN",
                b"VS FWM 7 DOWN",
                b"RS [10.213.0.2]:tcp:80 FWM 7 UP\0",
            ]
        )
        handler.batch([b"RS [10.213.0.2]:tcp:80 [10.213.0.10]:tcp:80 UP"])
        handler.close()
        assert rows(tmp_path, MESSAGES) == [
            ("RS", "[10.213.0.2]:tcp:80 [10.213.0.10]:tcp:80", "rs_down", "sink", 0.0, "pending"),
            ("VS", "FWM 7", "vs_down", "sink", 0.0, "pending"),
            ("RS", "[10.213.0.2]:tcp:80 FWM 7", "rs_up", "sink", 0.0, "pending"),
            (
                "RS",
                "[10.213.0.2]:tcp:80 [10.213.0.10]:tcp:80",
                "rs_up",
                "sink",
                COALESCE,
                "pending",
            ),
        ]
        assert handler.lvs == 4

    def test_rules_select_lvs_events_by_name(
        self, tmp_path: Path, make_config: Callable[[str], Config]
    ) -> None:
        """``events: [rs_down]`` takes real servers going down only; a rule naming only
        ``states`` takes none; every line is recorded all the same."""
        rules = "[{channels: [sink], events: [rs_down]}, {channels: [other], states: [MASTER]}]"
        config = make_config(
            f"""
            channels:
              sink: {{type: webhook, url: {{env: NOWHERE_URL}}}}
              other: {{type: webhook, url: {{env: NOWHERE_URL}}}}
            alerts: {rules}
            """
        )
        handler = LineHandler(config)
        handler.batch(
            [
                b"RS [10.213.0.2]:tcp:80 [10.213.0.10]:tcp:80 UP",
                b"RS [10.213.0.3]:tcp:80 [10.213.0.10]:tcp:80 DOWN",
                b"VS [10.213.0.10]:tcp:80 DOWN",
            ]
        )
        handler.close()
        assert [(row[2], row[3]) for row in rows(tmp_path, MESSAGES)] == [
            ("rs_up", None),
            ("rs_down", "sink"),
            ("vs_down", None),
        ]


class TestPriorityEvents:
    """Priority changes are recorded always and alerted only when a rule names ``priority``."""

    LINES = (
        b'INSTANCE "VI_1" MASTER_PRIORITY 80',
        b'INSTANCE "VI_1" BACKUP_PRIORITY 90',
        b'INSTANCE "VI_1" MASTER_RX_LOWER_PRI 100',
    )

    def test_recorded_without_alerts_by_default(
        self, tmp_path: Path, make_config: Callable[[str], Config]
    ) -> None:
        """A rule without ``events`` does not take priority changes: recorded, no message."""
        handler = LineHandler(alerting(make_config, "[{channels: [sink]}]"))
        handler.batch(list(self.LINES))
        handler.close()
        assert rows(tmp_path, "SELECT kind, name, priority, cause FROM events ORDER BY id") == [
            ("PRIORITY", "VI_1", 80, "keepalived: VI_1 MASTER_PRIORITY 80"),
            ("PRIORITY", "VI_1", 90, "keepalived: VI_1 BACKUP_PRIORITY 90"),
            ("PRIORITY", "VI_1", 100, "keepalived: VI_1 MASTER_RX_LOWER_PRI 100"),
        ]
        assert rows(tmp_path, "SELECT COUNT(*) FROM messages") == [(0,)]
        assert handler.reports == 3

    def test_alerted_when_a_rule_names_priority(
        self, tmp_path: Path, make_config: Callable[[str], Config]
    ) -> None:
        """``events: [priority]`` for VI_1: the first change is due at once, the next ones
        collapse with it; another instance's changes are not taken."""
        handler = LineHandler(
            alerting(make_config, "[{channels: [sink], events: [priority], instances: [VI_1]}]")
        )
        handler.batch([*self.LINES, b'INSTANCE "VI_2" MASTER_PRIORITY 80'])
        handler.close()
        assert [(row[1], row[3], row[4]) for row in rows(tmp_path, MESSAGES)] == [
            ("VI_1", "sink", 0.0),
            ("VI_1", "sink", COALESCE),
            ("VI_1", "sink", COALESCE),
            ("VI_2", None, None),
        ]

    def test_a_state_change_is_not_taken_for_a_priority(
        self, tmp_path: Path, make_config: Callable[[str], Config]
    ) -> None:
        """A priority report between two changes of state leaves the state's alert timing and
        hooks alone: the MASTER after it is still the first change after quiet."""
        script, record = recorder(tmp_path)
        handler = LineHandler(config_with(make_config, script))
        handler.batch([b'INSTANCE "VI_1" BACKUP_PRIORITY 90'])
        handler.batch([b'INSTANCE "VI_1" MASTER 100'])
        handler.close()
        assert record.read_text().splitlines() == ["MASTER 100"]
        assert rows(tmp_path, MESSAGES)[-1][2:5] == ("MASTER", "sink", 0.0)
