"""The durable outbox: every alert is on disk before anything is sent.

One SQLite database (WAL mode, ``synchronous=FULL``) under the data directory. Several notify
processes write at once (keepalived forks them concurrently); SQLite's own locking serialises
them, with a busy timeout so that none fails for a lock held a few milliseconds.

Message life cycle::

    held ──(hooks done)──> pending ──> sending ──> sent
                              ^  |          |
                              |  +-> merged (collapsed into a later message of the same flap)
                              +-- retry <---+--> failed (permanent error)
                                  pending ──(older than ttl)──> expired

``held`` protects the alert from going out before the hooks' outcome is known; a held message
older than ``HELD_GRACE`` seconds is treated as pending (the notify process died mid-hooks: the
alert still goes out, saying so). A message left in ``sending`` by a killed worker is sent
again: at most one duplicate, never a loss.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time

from kakit.core.fsutil import ensure_dir
from kakit.exceptions import StateError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Literal, TypeAlias

    from kakit.core.events import StateEvent

    Status: TypeAlias = Literal["held", "pending", "sending", "sent", "failed", "expired", "merged"]

HELD_GRACE = 10.0
#: Every status a message can be in (see the life cycle above), and those it never leaves.
STATUSES: tuple[Status, ...] = ("held", "pending", "sending", "sent", "failed", "expired", "merged")
DONE_STATUSES: tuple[Status, ...] = ("sent", "failed", "expired", "merged")

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY,
    time REAL NOT NULL,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    state TEXT NOT NULL,
    priority INTEGER NOT NULL,
    node TEXT NOT NULL,
    hooks TEXT,
    stale INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS events_by_name ON events (kind, name, time);
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY,
    event_id INTEGER NOT NULL REFERENCES events (id),
    channel TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    created REAL NOT NULL,
    next_attempt REAL NOT NULL,
    updated REAL NOT NULL,
    last_error TEXT,
    answer TEXT,
    merged_into INTEGER
);
CREATE INDEX IF NOT EXISTS messages_by_status ON messages (status, channel, next_attempt);
CREATE TABLE IF NOT EXISTS applied (
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    time REAL NOT NULL,
    state TEXT NOT NULL,
    PRIMARY KEY (kind, name)
);
CREATE TABLE IF NOT EXISTS sends (
    channel TEXT NOT NULL,
    time REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS sends_by_channel ON sends (channel, time);
"""


class MessageRow:
    """A message with the event it alerts about, as the worker and ``kakit outbox list`` see it.

    Attributes:
        event: The stored :class:`StateEvent`.
        node: The node that recorded it.
        hooks: The hooks' outcome lines (None: not recorded, the notify process died).
        stale: The event arrived after a newer one had been applied.
    """

    __slots__ = (
        "attempts",
        "channel",
        "created",
        "event",
        "event_id",
        "hooks",
        "id",
        "last_error",
        "next_attempt",
        "node",
        "stale",
        "status",
    )

    def __init__(self, row: sqlite3.Row) -> None:
        from kakit.core.events import StateEvent

        self.id: int = row["id"]
        self.event_id: int = row["event_id"]
        self.channel: str = row["channel"]
        self.status: Status = row["status"]
        self.attempts: int = row["attempts"]
        self.created: float = row["created"]
        self.next_attempt: float = row["next_attempt"]
        self.last_error: str | None = row["last_error"]
        self.event = StateEvent(
            kind=row["kind"],
            name=row["name"],
            state=row["state"],
            priority=row["priority"],
            time=row["time"],
        )
        self.node: str = row["node"]
        self.hooks: list[str] | None = json.loads(row["hooks"]) if row["hooks"] else None
        self.stale = bool(row["stale"])


_MESSAGE_SELECT = """
SELECT m.id, m.event_id, m.channel, m.status, m.attempts, m.created, m.next_attempt, m.last_error,
       e.time, e.kind, e.name, e.state, e.priority, e.node, e.hooks, e.stale
FROM messages m JOIN events e ON e.id = m.event_id
"""


_SET_APPLIED = (
    "INSERT INTO applied (kind, name, time, state) VALUES (?, ?, ?, ?)"
    " ON CONFLICT (kind, name) DO UPDATE SET time = excluded.time, state = excluded.state"
)


class Outbox:
    """The outbox database.

    Args:
        path: The SQLite file (created with mode 0600, its directory 0700).

    Raises:
        StateError: The database cannot be opened or created.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        directory = os.path.dirname(path) or "."
        try:
            ensure_dir(directory, 0o700)
            if not os.path.exists(path):
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600))
            self.db = sqlite3.connect(path, timeout=10.0, isolation_level=None)
            self.db.row_factory = sqlite3.Row
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            self.db.execute("PRAGMA foreign_keys=ON")
            self.db.executescript(SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise StateError(f"cannot open outbox {path}: {exc}") from exc

    def close(self) -> None:
        """Close the connection."""
        self.db.close()

    def __enter__(self) -> Outbox:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _write(self, sql: str, params: Iterable[object] = ()) -> sqlite3.Cursor:
        try:
            return self.db.execute(sql, tuple(params))
        except sqlite3.Error as exc:
            raise StateError(f"outbox {self.path}: {exc}") from exc

    # -- the notify side ---------------------------------------------------------------------

    def add_event(
        self, event: StateEvent, node: str, channels: list[str], send_after: float
    ) -> int:
        """Store an event and one held message per channel, in one transaction.

        Returns:
            The event id.
        """
        now = time.time()
        try:
            with self.db:
                self.db.execute("BEGIN IMMEDIATE")
                cursor = self.db.execute(
                    "INSERT INTO events (time, kind, name, state, priority, node) VALUES (?, ?, ?, ?, ?, ?)",
                    (event.time, event.kind, event.name, event.state, event.priority, node),
                )
                event_id = int(cursor.lastrowid or 0)
                self.db.executemany(
                    "INSERT INTO messages (event_id, channel, status, created, next_attempt, updated)"
                    " VALUES (?, ?, 'held', ?, ?, ?)",
                    [(event_id, channel, now, send_after, now) for channel in channels],
                )
        except sqlite3.Error as exc:
            raise StateError(f"outbox {self.path}: cannot store event: {exc}") from exc
        return event_id

    def finish_hooks(
        self, event_id: int, outcomes: list[str], stale: bool, applied: StateEvent | None = None
    ) -> None:
        """Record the hooks' outcome and let the event's messages go (one transaction).

        Args:
            event_id: The event.
            outcomes: One line per hook.
            stale: The event arrived after a newer one had been applied.
            applied: The event whose hooks were just applied (remembered for ordering).
        """
        try:
            with self.db:
                self.db.execute("BEGIN IMMEDIATE")
                if applied is not None:
                    self.db.execute(
                        _SET_APPLIED, (applied.kind, applied.name, applied.time, applied.state)
                    )
                self.db.execute(
                    "UPDATE events SET hooks = ?, stale = ? WHERE id = ?",
                    (json.dumps(outcomes), int(stale), event_id),
                )
                self.db.execute(
                    "UPDATE messages SET status = 'pending', updated = ? WHERE event_id = ? AND status = 'held'",
                    (time.time(), event_id),
                )
        except sqlite3.Error as exc:
            raise StateError(f"outbox {self.path}: cannot record hooks: {exc}") from exc

    def last_applied(self, kind: str, name: str) -> tuple[float, str] | None:
        """Time and state of the newest event whose hooks were applied for this instance."""
        row = self.db.execute(
            "SELECT time, state FROM applied WHERE kind = ? AND name = ?", (kind, name)
        ).fetchone()
        return None if row is None else (float(row["time"]), str(row["state"]))

    def previous_state(self, kind: str, name: str, before: float) -> str | None:
        """The state of the latest event for this instance that happened before ``before``."""
        row = self.db.execute(
            "SELECT state FROM events WHERE kind = ? AND name = ? AND time < ? ORDER BY time DESC, id DESC LIMIT 1",
            (kind, name, before),
        ).fetchone()
        return None if row is None else str(row["state"])

    # -- the delivery side -------------------------------------------------------------------

    def release_stale_held(self, now: float) -> int:
        """Held messages whose notify process died mid-hooks become pending."""
        cursor = self._write(
            "UPDATE messages SET status = 'pending', updated = ? WHERE status = 'held' AND created < ?",
            (now, now - HELD_GRACE),
        )
        return cursor.rowcount

    def requeue_sending(self) -> int:
        """Messages a killed worker left in ``sending`` go back to pending (sent again once)."""
        cursor = self._write("UPDATE messages SET status = 'pending' WHERE status = 'sending'")
        return cursor.rowcount

    def expire(self, now: float, ttl: float) -> list[MessageRow]:
        """Mark pending messages older than ``ttl`` as expired; returns them (to log)."""
        rows = [
            MessageRow(row)
            for row in self.db.execute(
                _MESSAGE_SELECT + " WHERE m.status IN ('pending', 'held') AND m.created < ?",
                (now - ttl,),
            )
        ]
        if rows:
            self._write(
                f"UPDATE messages SET status = 'expired', updated = ? WHERE id IN ({','.join('?' * len(rows))})",
                (now, *[row.id for row in rows]),
            )
        return rows

    def due_channels(self, now: float) -> list[str]:
        """Channels with at least one pending message due now."""
        rows = self.db.execute(
            "SELECT DISTINCT channel FROM messages WHERE status = 'pending' AND next_attempt <= ? ORDER BY channel",
            (now,),
        )
        return [str(row["channel"]) for row in rows]

    def next_due(self) -> float | None:
        """When the next pending or held message is due, or None when there is none."""
        row = self.db.execute(
            "SELECT MIN(CASE WHEN status = 'held' THEN created + ? ELSE next_attempt END) AS due"
            " FROM messages WHERE status IN ('pending', 'held')",
            (HELD_GRACE,),
        ).fetchone()
        return None if row is None or row["due"] is None else float(row["due"])

    def head_group(self, channel: str) -> list[MessageRow]:
        """The oldest pending message of ``channel`` with every pending message of its instance.

        All undelivered alerts of one instance on one channel are collapsed into one message, so
        the worker only ever needs this group (two indexed queries, whatever the backlog).
        """
        head = self.db.execute(
            _MESSAGE_SELECT
            + " WHERE m.channel = ? AND m.status = 'pending' ORDER BY e.time, m.id LIMIT 1",
            (channel,),
        ).fetchone()
        if head is None:
            return []
        rows = self.db.execute(
            _MESSAGE_SELECT
            + " WHERE m.channel = ? AND m.status = 'pending' AND e.kind = ? AND e.name = ? ORDER BY e.time, m.id",
            (channel, head["kind"], head["name"]),
        )
        return [MessageRow(row) for row in rows]

    def defer_channel(self, channel: str, until: float) -> None:
        """Hold every pending message of ``channel`` until ``until`` (rate limit; no attempt counted)."""
        self._write(
            "UPDATE messages SET next_attempt = MAX(next_attempt, ?), updated = ? WHERE channel = ? AND status = 'pending'",
            (until, time.time(), channel),
        )

    def mark_sending(self, ids: list[int]) -> None:
        """Claim messages before the network call (a crash then means 'send again')."""
        self._write(
            f"UPDATE messages SET status = 'sending', attempts = attempts + 1, updated = ? WHERE id IN ({','.join('?' * len(ids))})",
            (time.time(), *ids),
        )

    def mark_sent(self, sent_id: int, merged: list[int], answer: str, channel: str) -> None:
        """The message went out; collapsed siblings become ``merged`` into it."""
        now = time.time()
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            self.db.execute(
                "UPDATE messages SET status = 'sent', answer = ?, last_error = NULL, updated = ? WHERE id = ?",
                (answer, now, sent_id),
            )
            if merged:
                self.db.execute(
                    f"UPDATE messages SET status = 'merged', merged_into = ?, updated = ? WHERE id IN ({','.join('?' * len(merged))})",
                    (sent_id, now, *merged),
                )
            self.db.execute("INSERT INTO sends (channel, time) VALUES (?, ?)", (channel, now))

    def mark_retry(self, ids: list[int], next_attempt: float, error: str) -> None:
        """Put messages back to pending for a later attempt."""
        self._write(
            f"UPDATE messages SET status = 'pending', next_attempt = ?, last_error = ?, updated = ? WHERE id IN ({','.join('?' * len(ids))})",
            (next_attempt, error, time.time(), *ids),
        )

    def mark_failed(self, ids: list[int], error: str) -> None:
        """Give up on messages after a permanent error."""
        self._write(
            f"UPDATE messages SET status = 'failed', last_error = ?, updated = ? WHERE id IN ({','.join('?' * len(ids))})",
            (error, time.time(), *ids),
        )

    def sends_since(self, channel: str, since: float) -> list[float]:
        """Times of successful sends on ``channel`` after ``since`` (client-side rate limit)."""
        rows = self.db.execute(
            "SELECT time FROM sends WHERE channel = ? AND time > ? ORDER BY time", (channel, since)
        )
        return [float(row["time"]) for row in rows]

    def events(self, ids: list[int]) -> list[sqlite3.Row]:
        """Event rows by id, in time order."""
        rows = self.db.execute(
            f"SELECT * FROM events WHERE id IN ({','.join('?' * len(ids))}) ORDER BY time, id",
            tuple(ids),
        )
        return list(rows)

    # -- administration ----------------------------------------------------------------------

    def messages(
        self, statuses: tuple[Status, ...] | None = None, limit: int = 200
    ) -> list[MessageRow]:
        """Messages, newest first, optionally only with the given statuses."""
        where = f" WHERE m.status IN ({','.join('?' * len(statuses))})" if statuses else ""
        rows = self.db.execute(
            _MESSAGE_SELECT + where + " ORDER BY e.time DESC, m.id DESC LIMIT ?",
            (*(statuses or ()), limit),
        )
        return [MessageRow(row) for row in rows]

    def retry(self, ids: list[int] | None) -> int:
        """Failed/expired messages (all, or the given ids) become pending, due now."""
        now = time.time()
        if ids:
            where = (
                f"id IN ({','.join('?' * len(ids))}) AND status IN ('failed', 'expired', 'pending')"
            )
            params: tuple[object, ...] = (now, now, now, *ids)
        else:
            where = "status IN ('failed', 'expired', 'pending')"
            params = (now, now, now)
        cursor = self._write(
            f"UPDATE messages SET status = 'pending', next_attempt = ?, created = MAX(created, ? - 1), updated = ? WHERE {where}",
            params,
        )
        return cursor.rowcount

    def purge(self, statuses: tuple[Status, ...], older_than: float) -> int:
        """Delete finished messages (and events left without messages) older than ``older_than`` s."""
        cutoff = time.time() - older_than
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            cursor = self.db.execute(
                f"DELETE FROM messages WHERE status IN ({','.join('?' * len(statuses))}) AND updated < ?",
                (*statuses, cutoff),
            )
            self.db.execute(
                "DELETE FROM events WHERE time < ? AND id NOT IN (SELECT event_id FROM messages)"
                " AND id NOT IN (SELECT e.id FROM events e JOIN applied a ON a.kind = e.kind AND a.name = e.name AND a.time = e.time)",
                (cutoff,),
            )
            self.db.execute("DELETE FROM sends WHERE time < ?", (cutoff - 3600,))
        return cursor.rowcount
