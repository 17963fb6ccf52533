"""Specification of `kakit outbox list|retry|purge` and `kanotify test CHANNEL`."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from kakit.alerts.outbox import Outbox
from kakit.cli import kakit
from kakit.config import parse_config
from kakit.core.events import StateEvent
from tests.alerts.test_outage import delivery_workers, wait_for, write_config
from tests.fakes.http import Answer
from tests.fakes.webhook import WebhookSink
from tests.kanotify.test_cli import kanotify_path


def failed_alert(config_path: Path) -> None:
    """Store one alert that already failed permanently."""
    config = parse_config(config_path.read_text(), str(config_path))
    with Outbox(config.outbox_path()) as box:
        event_id = box.add_event(
            StateEvent(kind="INSTANCE", name="VI_9", state="FAULT", priority=50, time=time.time()),
            "lb1",
            ["sink"],
            time.time(),
        )
        box.finish_hooks(event_id, [], stale=False)
        (row,) = box.messages()
        box.mark_failed([row.id], "sink: HTTP 400 from http://127.0.0.1 (bad request)")


class TestOutboxCommands:
    """Operators can see, resend and clean up alerts."""

    def test_list_retry_purge(self, tmp_path: Path, sink: WebhookSink) -> None:
        """A failed alert is listed with its error, delivered after retry, then purged."""
        config = write_config(tmp_path, sink)
        failed_alert(config)
        runner = CliRunner()
        listed = runner.invoke(kakit, ["outbox", "list", "-c", str(config)])
        assert listed.exit_code == 0
        assert (
            "instance VI_9 FAULT -> sink: failed (attempts 0)  last error: sink: HTTP 400"
            in listed.output
        )
        retried = runner.invoke(kakit, ["outbox", "retry", "-c", str(config)])
        assert (retried.exit_code, retried.output.strip()) == (
            0,
            "1 message(s) queued for delivery",
        )
        wait_for(
            lambda: len(sink.requests) == 1 and not delivery_workers(config), "the retried alert"
        )
        assert sink.bodies[0]["name"] == "VI_9" and sink.bodies[0]["state"] == "FAULT"
        sent = runner.invoke(kakit, ["outbox", "list", "--status", "sent", "-c", str(config)])
        assert "VI_9 FAULT -> sink: sent" in sent.output
        purged = runner.invoke(kakit, ["outbox", "purge", "--older-than", "0", "-c", str(config)])
        assert (purged.exit_code, purged.output.strip()) == (0, "1 message(s) purged")
        empty = runner.invoke(kakit, ["outbox", "list", "-c", str(config)])
        assert empty.output.strip() == "outbox is empty"

    def test_purge_never_touches_pending(self, tmp_path: Path, sink: WebhookSink) -> None:
        """Purging keeps alerts that are still to be delivered."""
        config = write_config(tmp_path, sink)
        parsed = parse_config(config.read_text(), str(config))
        with Outbox(parsed.outbox_path()) as box:
            event_id = box.add_event(
                StateEvent(
                    kind="INSTANCE", name="VI_1", state="MASTER", priority=100, time=time.time()
                ),
                "lb1",
                ["sink"],
                time.time() + 3600,
            )
            box.finish_hooks(event_id, [], stale=False)
        result = CliRunner().invoke(
            kakit, ["outbox", "purge", "--older-than", "0", "-c", str(config)]
        )
        assert result.output.strip() == "0 message(s) purged"

    def test_bad_age(self, tmp_path: Path, sink: WebhookSink) -> None:
        """An unreadable --older-than is a usage error."""
        config = write_config(tmp_path, sink)
        result = CliRunner().invoke(
            kakit, ["outbox", "purge", "--older-than", "soon", "-c", str(config)]
        )
        assert (
            result.exit_code == 2
            and "expected an age such as 7d, 12h or 30m, got 'soon'" in result.output
        )

    @pytest.mark.parametrize("command", [["list"], ["retry"], ["purge"]])
    def test_unreadable_outbox(self, tmp_path: Path, sink: WebhookSink, command: list[str]) -> None:
        """An outbox that is no database fails the command with one line, exit status 1, and
        the way out."""
        config = write_config(tmp_path, sink)
        outbox = Path(parse_config(config.read_text(), str(config)).outbox_path())
        outbox.parent.mkdir(parents=True, exist_ok=True)
        outbox.write_bytes(b"not a database " * 100)
        result = CliRunner().invoke(kakit, ["outbox", *command, "-c", str(config)])
        assert (result.exit_code, result.output) == (
            1,
            f"Error: outbox {outbox} is damaged (file is not a database): `kakit outbox repair`"
            " moves it aside, keeps it, and starts a new outbox with every message it can still read\n",
        )


class TestTestAlert:
    """`kanotify test CHANNEL` sends a marked alert now and reports the answer."""

    def test_delivered(self, tmp_path: Path, sink: WebhookSink) -> None:
        """The sink receives a test-marked alert and the command prints the answer."""
        config = write_config(tmp_path, sink)
        result = subprocess.run(
            [kanotify_path(), "-c", str(config), "test", "sink"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith("sink: delivered: ")
        (body,) = sink.bodies
        assert body["test"] is True and body["title"].startswith("[TEST] ")

    def test_refused(self, tmp_path: Path, sink: WebhookSink) -> None:
        """A refusing channel makes the command exit 1 with the platform's answer."""
        config = write_config(tmp_path, sink)
        sink.answer_next(Answer.text("no such hook", status=404))
        result = subprocess.run(
            [kanotify_path(), "-c", str(config), "test", "sink"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 1
        assert result.stdout.startswith("sink: FAILED: ") and "404" in result.stdout

    def test_unknown_channel(self, tmp_path: Path, sink: WebhookSink) -> None:
        """An unknown channel name exits 2 and lists the known ones."""
        config = write_config(tmp_path, sink)
        result = subprocess.run(
            [kanotify_path(), "-c", str(config), "test", "pager"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 2 and "unknown channel 'pager' (known: sink)" in result.stderr


def pending_alerts(config_path: Path, count: int) -> str:
    """Store ``count`` pending alerts (no worker); returns the outbox path."""
    config = parse_config(config_path.read_text(), str(config_path))
    with Outbox(config.outbox_path()) as box:
        for index in range(count):
            event_id = box.add_event(
                StateEvent(kind="INSTANCE", name=f"VI_{index}", state="MASTER", time=time.time()),
                "lb1",
                ["sink"],
                time.time(),
            )
            box.finish_hooks(event_id, [], stale=False)
        box.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return config.outbox_path()


class TestDamagedOutbox:
    """A damaged outbox is diagnosed in one line, and repair keeps what can be read."""

    def test_garbage_file(self, tmp_path: Path, sink: WebhookSink) -> None:
        """A file that is not a database: list says so and names the way out; repair starts afresh."""
        config = write_config(tmp_path, sink)
        path = Path(pending_alerts(config, 1))
        path.write_bytes(b"\x00garbage" * 512)
        runner = CliRunner()
        listed = runner.invoke(kakit, ["outbox", "list", "-c", str(config)])
        assert listed.exit_code == 1
        assert "is damaged" in listed.output and "kakit outbox repair" in listed.output
        assert "Traceback" not in listed.output
        repaired = runner.invoke(kakit, ["outbox", "repair", "-c", str(config)])
        assert repaired.exit_code == 0, repaired.output
        assert "0 undelivered message(s) recovered" in repaired.output
        kept = [p for p in path.parent.iterdir() if ".damaged-" in p.name]
        assert [p.read_bytes()[:8] for p in kept] == [b"\x00garbage"]
        again = runner.invoke(kakit, ["outbox", "list", "-c", str(config)])
        assert (again.exit_code, again.output.strip()) == (0, "outbox is empty")

    def test_damaged_page_keeps_the_other_rows(self, tmp_path: Path, sink: WebhookSink) -> None:
        """A damaged page loses its rows only: the readable pending alerts are recovered and sent."""
        config = write_config(tmp_path, sink)
        path = Path(pending_alerts(config, 300))
        data = bytearray(path.read_bytes())
        page, pages = 4096, len(data) // 4096
        for index in range(pages // 2, pages, 3):  # every third page of the second half
            data[page * index : page * (index + 1)] = b"\xff" * page
        path.write_bytes(bytes(data))
        runner = CliRunner()
        listed = runner.invoke(kakit, ["outbox", "list", "-c", str(config)])
        assert (listed.exit_code, "is damaged" in listed.output) == (1, True), listed.output
        repaired = runner.invoke(kakit, ["outbox", "repair", "-c", str(config)])
        assert repaired.exit_code == 0, repaired.output
        recovered = int(repaired.output.split("and\n")[1].split(" ")[0])
        assert recovered > 0
        retried = runner.invoke(kakit, ["outbox", "retry", "-c", str(config)])
        assert retried.exit_code == 0
        wait_for(lambda: len(sink.requests) == recovered, "every recovered alert delivered")
