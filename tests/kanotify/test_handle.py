"""Specification of one notify run when things go wrong: broken alerting, bursts, clock steps.

The node's configuration must follow keepalived's state whatever happens to alerting, hooks
never run without the notify lock, and a burst of concurrent notifies ends with the newest
event applied.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from kakit.alerts.outbox import Outbox
from kakit.config import Config
from kakit.core.events import StateEvent, boot_id
from kakit.kanotify.handle import handle_event
from tests.alerts.test_outage import wait_for
from tests.conftest import config_text
from tests.fakes.webhook import WebhookSink
from tests.kanotify.test_cli import kanotify_path, outbox_rows


def recorder(tmp_path: Path) -> tuple[Path, Path]:
    """A run-hook program that appends ``STATE PRIORITY`` to a file; returns (program, file)."""
    record = tmp_path / "applied.txt"
    script = tmp_path / "record.sh"
    script.write_text(f'#!/bin/sh\necho "$KAKIT_STATE $KAKIT_PRIORITY" >> {record}\n')
    script.chmod(0o755)
    return script, record


def hooks_and_sink(script: Path, sink: WebhookSink) -> str:
    """Configuration: every state records itself; every event alerts the sink."""
    return f"""\
        states:
          MASTER: {{run: [[{script}]]}}
          BACKUP: {{run: [[{script}]]}}
          FAULT: {{run: [[{script}]]}}
        channels:
          sink: {{type: webhook, url: "{sink.url}/hook"}}
        alerts: [{{channels: [sink]}}]
        outbox: {{coalesce: 0s}}
        """


def write_private(tmp_path: Path, body: str) -> Path:
    """kakit.yaml with private paths, mode 0600 (the sink URL is an inline secret)."""
    path = tmp_path / "kakit.yaml"
    path.write_text(config_text(tmp_path, body))
    path.chmod(0o600)
    return path


def kanotify_in_mount_ns(setup: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run kanotify in a private mount namespace after the shell ``setup`` (mounts)."""
    command = f"{setup} && exec {kanotify_path()} " + " ".join(args)
    return subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-ec", command],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


class TestHooksDoNotDependOnAlerting:
    """A failover configures the node even when its alerts cannot be stored."""

    def test_corrupt_outbox(self, tmp_path: Path, sink: WebhookSink) -> None:
        """A corrupt outbox: hooks applied, exit 0, the alert sent directly, the failure logged."""
        script, record = recorder(tmp_path)
        config = write_private(tmp_path, hooks_and_sink(script, sink))
        (tmp_path / "lib").mkdir()
        (tmp_path / "lib" / "outbox.sqlite").write_bytes(b"this is not a database" * 100)
        result = subprocess.run(
            [kanotify_path(), "-c", str(config), "INSTANCE", "VI_1", "MASTER", "100"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        assert record.read_text().split() == ["MASTER", "100"]
        assert [body["state"] for body in sink.bodies] == ["MASTER"]
        log = (tmp_path / "kakit.log").read_text()
        assert "could not be stored" in log and "sent directly to sink" in log

    @pytest.mark.parametrize(
        ("what", "setup"),
        [
            ("read-only", "mount -t tmpfs -o ro,size=1m tmpfs {lib}"),
            (
                "full",
                "mount -t tmpfs -o size=64k tmpfs {lib} && head -c 1m /dev/zero > {lib}/fill || true",
            ),
        ],
    )
    def test_unwritable_data_dir(
        self, tmp_path: Path, sink: WebhookSink, what: str, setup: str
    ) -> None:
        """A read-only or full data directory: hooks applied and the alert still delivered."""
        script, record = recorder(tmp_path)
        config = write_private(tmp_path, hooks_and_sink(script, sink))
        lib = tmp_path / "lib"
        lib.mkdir()
        result = kanotify_in_mount_ns(
            setup.format(lib=lib), "-c", str(config), "INSTANCE", "VI_1", "MASTER", "100"
        )
        assert result.returncode == 0, (what, result.stderr)
        assert record.read_text().split() == ["MASTER", "100"]
        assert [body["state"] for body in sink.bodies] == ["MASTER"]

    def test_read_only_state_dir(self, tmp_path: Path, sink: WebhookSink) -> None:
        """A read-only state directory: the lock moves to the data dir, and the alert is not stuck held."""
        script, record = recorder(tmp_path)
        config = write_private(tmp_path, hooks_and_sink(script, sink))
        run = tmp_path / "run"
        run.mkdir()
        result = kanotify_in_mount_ns(
            f"mount -t tmpfs -o ro,size=1m tmpfs {run}",
            "-c",
            str(config),
            "INSTANCE",
            "VI_1",
            "MASTER",
            "100",
        )
        assert result.returncode == 0, result.stderr
        assert record.read_text().split() == ["MASTER", "100"]
        wait_for(lambda: len(sink.bodies) == 1, "the alert delivered by the worker")
        # The sink answers before the worker records the send: wait for the record too.
        wait_for(
            lambda: outbox_rows(tmp_path, "SELECT status FROM messages") == [("sent",)],
            "the send recorded in the outbox",
        )
        assert len(sink.bodies) == 1


class TestOrder:
    """Events are ordered by when kakit received them, on a clock that does not step."""

    def test_wall_clock_step_back_is_not_late(
        self, tmp_path: Path, make_config: Callable[[str], Config]
    ) -> None:
        """A BACKUP received after MASTER but stamped an hour earlier (clock stepped) is applied."""
        script, record = recorder(tmp_path)
        config = make_config(
            f"states:\n  MASTER: {{run: [[{script}]]}}\n  BACKUP: {{run: [[{script}]]}}\n"
        )
        boot, now, mono = boot_id(), time.time(), time.clock_gettime(time.CLOCK_BOOTTIME)
        for state, wall, stamp in (("MASTER", now, mono), ("BACKUP", now - 3600, mono + 1)):
            event = StateEvent(
                kind="INSTANCE",
                name="VI_1",
                state=state,  # type: ignore[arg-type]
                priority=100,
                time=wall,
                boot=boot,
                mono=stamp,
            )
            assert handle_event(config, event, start_worker=False) == 0
        assert record.read_text().split() == ["MASTER", "100", "BACKUP", "100"]
        assert outbox_rows(tmp_path, "SELECT stale FROM events") == [(0,), (0,)]

    def test_burst_converges_on_the_newest_event(self, tmp_path: Path) -> None:
        """40 notifies at once on one instance: all recorded, none without the lock, newest applied last."""
        script, record = recorder(tmp_path)
        config = tmp_path / "kakit.yaml"
        config.write_text(
            config_text(
                tmp_path,
                f"states:\n  MASTER: {{run: [[{script}]]}}\n  BACKUP: {{run: [[{script}]]}}\n",
            )
        )
        states = ("MASTER", "BACKUP")
        procs = [
            subprocess.Popen(
                [kanotify_path(), "-c", str(config), "INSTANCE", "VI_1", states[i % 2], str(i + 1)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for i in range(40)
        ]
        assert [proc.wait(120) for proc in procs] == [0] * 40
        events = outbox_rows(tmp_path, "SELECT priority, state, mono FROM events ORDER BY mono")
        assert len(events) == 40
        applied = [line.split() for line in record.read_text().splitlines()]
        newest_priority, newest_state, _ = events[-1]
        assert applied[-1] == [newest_state, str(newest_priority)]
        mono_of = {int(str(priority)): float(str(mono)) for priority, _, mono in events}
        applied_order = [mono_of[int(priority)] for _, priority in applied]
        assert applied_order == sorted(applied_order), "a late event undid a newer one"
        assert "NOT applied" not in (tmp_path / "kakit.log").read_text()

    def test_waits_for_the_lock_rather_than_skipping_it(
        self, tmp_path: Path, make_config: Callable[[str], Config]
    ) -> None:
        """While another process holds the notify lock, the hooks wait for it, then run."""
        script, record = recorder(tmp_path)
        config = make_config(f"states:\n  MASTER: {{run: [[{script}]]}}\n")
        lock = tmp_path / "run" / "notify.lock"
        lock.parent.mkdir(parents=True)
        released = tmp_path / "released"
        with subprocess.Popen(
            [
                sys.executable,
                "-c",
                "import fcntl, os, sys, time\n"
                f"fd = os.open({str(lock)!r}, os.O_RDWR | os.O_CREAT)\n"
                "fcntl.flock(fd, fcntl.LOCK_EX)\n"
                "print('held', flush=True)\n"
                "time.sleep(1.5)\n"
                f"open({str(released)!r}, 'w').write(repr(time.time()))\n",
            ],
            stdout=subprocess.PIPE,
            text=True,
        ) as holder:
            assert holder.stdout is not None and holder.stdout.readline() == "held\n"
            event = StateEvent(
                kind="INSTANCE", name="VI_1", state="MASTER", priority=100, time=time.time()
            )
            assert handle_event(config, event, start_worker=False) == 0
            holder.wait(10)
        assert record.stat().st_mtime >= float(released.read_text())
        assert record.read_text().split() == ["MASTER", "100"]


class TestDuplicatesAreBounded:
    """A worker killed while sending re-sends the message later, and only so often."""

    def test_resent_after_each_death_with_growing_delay(self, tmp_path: Path) -> None:
        """A message left 'sending' by a dead worker is pending again after delay(deaths), every
        time: re-sent, never dropped, ever more slowly."""
        with Outbox(str(tmp_path / "outbox.sqlite")) as box:
            event_id = box.add_event(
                StateEvent(kind="INSTANCE", name="VI_1", state="MASTER", time=time.time()),
                "lb1",
                ["ops"],
                0.0,
            )
            box.finish_hooks(event_id, [], stale=False)
            (row,) = box.messages()
            for death in range(1, 6):
                box.mark_sending([row.id])
                recovered = box.recover_sending(1000.0, lambda deaths: 2.0**deaths)
                (row,) = box.messages()
                assert [r.crashes for r in recovered] == [death]
                assert (row.status, row.crashes, row.next_attempt) == (
                    "pending",
                    death,
                    1000.0 + 2.0**death,
                )


class TestOutboxFromTheFirstRelease:
    """An outbox written by kakit 0.1.0 is migrated in place; nothing in it is lost."""

    OLD_SCHEMA = """
    CREATE TABLE events (id INTEGER PRIMARY KEY, time REAL NOT NULL, kind TEXT NOT NULL,
        name TEXT NOT NULL, state TEXT NOT NULL, priority INTEGER NOT NULL, node TEXT NOT NULL,
        hooks TEXT, stale INTEGER NOT NULL DEFAULT 0);
    CREATE TABLE messages (id INTEGER PRIMARY KEY, event_id INTEGER NOT NULL REFERENCES events (id),
        channel TEXT NOT NULL, status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
        created REAL NOT NULL, next_attempt REAL NOT NULL, updated REAL NOT NULL,
        last_error TEXT, answer TEXT, merged_into INTEGER);
    CREATE TABLE applied (kind TEXT NOT NULL, name TEXT NOT NULL, time REAL NOT NULL,
        state TEXT NOT NULL, PRIMARY KEY (kind, name));
    CREATE TABLE sends (channel TEXT NOT NULL, time REAL NOT NULL);
    INSERT INTO events VALUES (1, 100.0, 'INSTANCE', 'VI_1', 'MASTER', 100, 'lb1', '[]', 0);
    INSERT INTO messages VALUES (1, 1, 'ops', 'pending', 0, 100.0, 100.0, 100.0, NULL, NULL, NULL);
    """

    def test_pending_message_survives_migration(self, tmp_path: Path) -> None:
        """The old file opens, gains the new columns, and its pending message is still due."""
        path = tmp_path / "outbox.sqlite"
        with sqlite3.connect(path) as db:
            db.executescript(self.OLD_SCHEMA)
        with Outbox(str(path)) as box:
            (row,) = box.messages()
            assert (row.status, row.event.state, row.crashes) == ("pending", "MASTER", 0)
            assert (row.cause, row.check_events) == ("", ())
            assert box.due_channels(200.0) == ["ops"]
        with sqlite3.connect(path) as db:
            assert db.execute("PRAGMA user_version").fetchone() == (3,)


class TestOutboxBeforeKacheckAlerts:
    """An outbox written before kacheck alerts (schema 2) opens and takes them."""

    def test_version_two_gains_cause_and_events(self, tmp_path: Path) -> None:
        """A schema-2 file keeps its message and stores a kacheck alert after the migration."""
        path = tmp_path / "outbox.sqlite"
        with sqlite3.connect(path) as db:
            db.executescript(TestOutboxFromTheFirstRelease.OLD_SCHEMA)
        with Outbox(str(path)):
            pass  # migrated to the current schema
        with sqlite3.connect(path) as db:
            # Back to what kakit with schema 2 wrote: no cause, no events columns.
            db.execute("ALTER TABLE events DROP COLUMN cause")
            db.execute("ALTER TABLE events DROP COLUMN events")
            db.execute("PRAGMA user_version = 2")
        with Outbox(str(path)) as box:
            box.add_check_event(
                "nginx",
                ("restart",),
                "nginx: restarted",
                node="lb1",
                channels=["ops"],
                stamp={"time": 300.0, "boot": "", "mono": 0.0},
                send_after=300.0,
            )
            kinds = sorted((row.event.kind, row.event.state, row.cause) for row in box.messages())
        assert kinds == [("CHECK", "restart", "nginx: restarted"), ("INSTANCE", "MASTER", "")]
