"""The durable outbox: every alert is on disk before anything is sent.

One SQLite database (WAL mode, ``synchronous=FULL``) under the data directory. Many notify
processes write at once (keepalived forks them concurrently, hundreds in a burst); SQLite's own
locking serialises them. A burst starves the CPU, so a writer may hold the lock for a long time
while descheduled: every write waits for it with a real budget (:data:`BUSY_BUDGET`), and takes
the write lock at the start of its transaction, so SQLite's busy handler always applies.

Message life cycle::

    held ──(hooks done)──> pending ──> sending ──> sent
                              ^  |          |
                              |  +-> merged (collapsed into a later message of the same flap)
                              +-- retry <---+--> failed (permanent error)
                                  pending ──(older than ttl)──> expired

``held`` protects the alert from going out before the hooks' outcome is known; a held message
older than ``HELD_GRACE`` seconds is treated as pending (the notify process died mid-hooks: the
alert still goes out, saying so). A message left in ``sending`` by a killed worker may or may
not have reached the channel; it is sent again, never dropped, after a back-off that grows with
every such death (so each worker death during its send costs at most one duplicate, and a
message that kills the worker every time is retried ever more slowly until it expires at the
outbox's ``ttl``, with a log line each time).
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import time

from kakit.core.events import CHECK_KIND
from kakit.core.fsutil import ensure_dir
from kakit.exceptions import StateError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator
    from typing import Literal, TypeAlias

    from kakit.config.schema import Config
    from kakit.core.events import ReportEvent, StateEvent

    Status: TypeAlias = Literal["held", "pending", "sending", "sent", "failed", "expired", "merged"]

HELD_GRACE = 10.0
#: Seconds one write may wait for another process's write lock before it gives up.
BUSY_BUDGET = 60.0
#: The schema this code writes (``PRAGMA user_version``); older files are migrated on open.
SCHEMA_VERSION = 3
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
    stale INTEGER NOT NULL DEFAULT 0,
    boot TEXT NOT NULL DEFAULT '',
    mono REAL NOT NULL DEFAULT 0,
    cause TEXT NOT NULL DEFAULT '',
    events TEXT NOT NULL DEFAULT ''
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
    merged_into INTEGER,
    crashes INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS messages_by_status ON messages (status, channel, next_attempt);
CREATE TABLE IF NOT EXISTS sends (
    channel TEXT NOT NULL,
    time REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS sends_by_channel ON sends (channel, time);
"""
#: Migrations from older files, by the version they start from. Version 0/1 is kakit 0.1.0's
#: schema: no receive stamps, no crash counter; version 2 had no kacheck events.
MIGRATIONS = {
    1: (
        "ALTER TABLE events ADD COLUMN boot TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE events ADD COLUMN mono REAL NOT NULL DEFAULT 0",
        "ALTER TABLE messages ADD COLUMN crashes INTEGER NOT NULL DEFAULT 0",
        "DROP TABLE IF EXISTS applied",
    ),
    2: (
        "ALTER TABLE events ADD COLUMN cause TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE events ADD COLUMN events TEXT NOT NULL DEFAULT ''",
    ),
}


class MessageRow:
    """A message with the event it alerts about, as the worker and ``kakit outbox list`` see it.

    Attributes:
        event: The stored :class:`StateEvent`.
        node: The node that recorded it.
        hooks: The hooks' outcome lines (None: not recorded, the notify process died).
        stale: The event arrived after a newer one had been applied.
        cause: A kacheck event's cause (the check's summary); "" for a state change.
        check_events: The event names of a row that is no state change: what a kacheck run
            did (``restart`` ... ``escalate``; kind ``CHECK``, the check as its name, the most
            serious of these as its state), what a kaprobe session did (``bfd_down``...; kind
            ``BFD``, the session as its name, the latest as its state), or an LVS or priority
            event (kind ``VS``, ``RS`` or ``PRIORITY``, its one name as its state). Empty for a
            state change.
    """

    __slots__ = (
        "attempts",
        "cause",
        "channel",
        "check_events",
        "crashes",
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
        self.id: int = row["id"]
        self.event_id: int = row["event_id"]
        self.channel: str = row["channel"]
        self.status: Status = row["status"]
        self.attempts: int = row["attempts"]
        self.crashes: int = row["crashes"]
        self.created: float = row["created"]
        self.next_attempt: float = row["next_attempt"]
        self.last_error: str | None = row["last_error"]
        self.event = _event(row)
        self.node: str = row["node"]
        self.hooks: list[str] | None = json.loads(row["hooks"]) if row["hooks"] else None
        self.stale = bool(row["stale"])
        self.cause: str = row["cause"]
        self.check_events: tuple[str, ...] = (
            tuple(json.loads(row["events"])) if row["events"] else ()
        )


_MESSAGE_SELECT = """
SELECT m.id, m.event_id, m.channel, m.status, m.attempts, m.crashes, m.created, m.next_attempt,
       m.last_error, e.time, e.kind, e.name, e.state, e.priority, e.node, e.hooks, e.stale,
       e.boot, e.mono, e.cause, e.events
FROM messages m JOIN events e ON e.id = m.event_id
"""

#: Events in the order kakit received them: earlier boots by wall time, then this boot by its
#: monotonic stamp (the parameter is the current boot id).
_EVENT_ORDER = "(e.boot = :boot), CASE WHEN e.boot = :boot THEN e.mono ELSE e.time END, e.id"
_NEWEST_FIRST = (
    "(e.boot = :boot) DESC, CASE WHEN e.boot = :boot THEN e.mono ELSE e.time END DESC, e.id DESC"
)


class Outbox:
    """The outbox database.

    Args:
        path: The SQLite file (created with mode 0600, its directory 0700).
        busy: Seconds a write waits for another process's write lock (kacheck, which must
            answer keepalived in time, waits far less than :data:`BUSY_BUDGET`).

    Raises:
        StateError: The database cannot be opened, created or migrated.
    """

    def __init__(self, path: str, busy: float = BUSY_BUDGET) -> None:
        from kakit.core.events import boot_id

        self.path = path
        self.boot = boot_id()
        directory = os.path.dirname(path) or "."
        try:
            ensure_dir(directory, 0o700)
            if not os.path.exists(path):
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600))
            self.db = sqlite3.connect(path, timeout=busy, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise StateError(f"cannot open outbox {path}: {exc}") from exc
        try:
            self.db.row_factory = sqlite3.Row
            self.db.execute("PRAGMA synchronous=FULL")
            self.db.execute("PRAGMA foreign_keys=ON")
            (version,) = self.db.execute("PRAGMA user_version").fetchone()
            if version < SCHEMA_VERSION:
                self._upgrade()
        except (OSError, sqlite3.Error) as exc:
            self.db.close()
            raise damaged(path, exc) from exc

    def _upgrade(self) -> None:
        """Create or migrate the schema, once, under the write lock."""
        # Switching to WAL needs the database to itself; it is persistent, so only a new file
        # (or one from before WAL) pays for it.
        if self.db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            self.db.execute("PRAGMA journal_mode=WAL")
        with self._transaction():
            (version,) = self.db.execute("PRAGMA user_version").fetchone()
            if version >= SCHEMA_VERSION:
                return  # another process upgraded it while we waited
            tables = {row[0] for row in self.db.execute("SELECT name FROM sqlite_master")}
            if "events" in tables:
                for start in sorted(MIGRATIONS):
                    if version <= start:
                        for statement in MIGRATIONS[start]:
                            self.db.execute(statement)
            for statement in SCHEMA.split(";"):
                if statement.strip():
                    self.db.execute(statement)
            self.db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def close(self) -> None:
        """Close the connection."""
        self.db.close()

    def __enter__(self) -> Outbox:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        """One write transaction that holds the write lock from its first statement.

        ``BEGIN IMMEDIATE`` makes SQLite's busy handler wait (up to :data:`BUSY_BUDGET`) for the
        lock; a deferred transaction that starts reading and then writes can instead fail at
        once with "database is locked" when another process committed in between.
        """
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def _read(self, sql: str, params: Iterable[object] | dict[str, object] = ()) -> sqlite3.Cursor:
        try:
            return self.db.execute(sql, params if isinstance(params, dict) else tuple(params))
        except sqlite3.DatabaseError as exc:
            raise damaged(self.path, exc) from exc

    def _write(self, sql: str, params: Iterable[object] | dict[str, object] = ()) -> sqlite3.Cursor:
        try:
            with self._transaction():
                return self.db.execute(sql, params if isinstance(params, dict) else tuple(params))
        except sqlite3.Error as exc:
            raise damaged(self.path, exc) from exc

    # -- the notify side ---------------------------------------------------------------------

    def add_event(
        self, event: StateEvent, node: str, channels: list[str], send_after: float
    ) -> int:
        """Store an event and one held message per channel, in one transaction.

        Returns:
            The event id.
        """
        return self.add_events([(event, channels, send_after)], node)[0]

    def add_events(
        self, items: list[tuple[StateEvent | ReportEvent, list[str], float]], node: str
    ) -> list[int]:
        """Store many events and their messages in one transaction (the FIFO reader's batch:
        one commit, and one fsync, for every line one read brought).

        A state change's messages are held until its hooks' outcome is recorded
        (:meth:`finish_hooks_many`); a :class:`~kakit.core.events.ReportEvent` (LVS, priority)
        has no hooks, so its messages are pending at once.

        Args:
            items: ``(event, channels, send_after)`` per event, in the order received.
            node: This node's name.

        Returns:
            The event ids, in the same order.
        """
        from kakit.core.events import StateEvent

        now = time.time()
        ids: list[int] = []
        try:
            with self._transaction():
                for event, channels, send_after in items:
                    state: str
                    if isinstance(event, StateEvent):
                        state, hooks, cause, names = event.state, None, "", ""
                    else:
                        state, hooks, cause = event.event, "[]", event.cause
                        names = json.dumps([event.event])
                    cursor = self.db.execute(
                        "INSERT INTO events (time, kind, name, state, priority, node, hooks, boot,"
                        " mono, cause, events) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (
                            event.time,
                            event.kind,
                            event.name,
                            state,
                            event.priority,
                            node,
                            hooks,
                            event.boot,
                            event.mono,
                            cause,
                            names,
                        ),
                    )
                    event_id = int(cursor.lastrowid or 0)
                    ids.append(event_id)
                    status: Status = "held" if hooks is None else "pending"
                    self._add_messages(event_id, channels, status, now, send_after)
        except sqlite3.Error as exc:
            raise StateError(f"outbox {self.path}: cannot store event: {exc}") from exc
        return ids

    def _add_messages(
        self, event_id: int, channels: list[str], status: Status, now: float, due: float
    ) -> None:
        """One message per channel for an event (inside the caller's transaction)."""
        self.db.executemany(
            "INSERT INTO messages (event_id, channel, status, created, next_attempt, updated)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            [(event_id, channel, status, now, due, now) for channel in channels],
        )

    def finish_hooks_many(self, outcomes: list[tuple[int, list[str], bool]]) -> None:
        """:meth:`finish_hooks` for many events, in one transaction."""
        now = time.time()
        try:
            with self._transaction():
                self.db.executemany(
                    "UPDATE events SET hooks = ?, stale = ? WHERE id = ?",
                    [
                        (json.dumps(lines), int(stale), event_id)
                        for event_id, lines, stale in outcomes
                    ],
                )
                self.db.executemany(
                    "UPDATE messages SET status = 'pending', updated = ? WHERE event_id = ? AND status = 'held'",
                    [(now, event_id) for event_id, _, _ in outcomes],
                )
        except sqlite3.Error as exc:
            raise StateError(f"outbox {self.path}: cannot record hooks: {exc}") from exc

    def add_check_event(
        self,
        check: str,
        events: tuple[str, ...],
        cause: str,
        *,
        node: str,
        channels: list[str],
        stamp: dict[str, float | str],
        send_after: float,
        kind: str = CHECK_KIND,
    ) -> int:
        """Store what one kacheck run did and one pending message per channel (one transaction).

        Events of other sources (kaprobe's BFD sessions) are stored the same way, under their
        own ``kind``.

        Args:
            check: The check (for another kind: what the events are about, a BFD session).
            events: What the run did, mildest first (at least one); for another kind, in the
                order they happened.
            cause: The check's summary (for another kind: the event in one line).
            node: This node's name.
            channels: The channels that alert it.
            stamp: The receive stamp (:func:`kakit.core.events.received_now`).
            send_after: When the messages are due (later runs' events collapse into them
                until then).
            kind: ``CHECK``, or :data:`~kakit.core.events.BFD_KIND`.

        Returns:
            The event id.
        """
        from kakit.core.events import headline

        now = time.time()
        try:
            with self._transaction():
                cursor = self.db.execute(
                    "INSERT INTO events (time, kind, name, state, priority, node, hooks, boot, mono,"
                    " cause, events) VALUES (?, ?, ?, ?, -1, ?, '[]', ?, ?, ?, ?)",
                    (
                        stamp["time"],
                        kind,
                        check,
                        headline(events),
                        node,
                        stamp["boot"],
                        stamp["mono"],
                        cause,
                        json.dumps(list(events)),
                    ),
                )
                event_id = int(cursor.lastrowid or 0)
                # No hooks to wait for: the messages are pending at once.
                self._add_messages(event_id, channels, "pending", now, send_after)
        except sqlite3.Error as exc:
            raise StateError(f"outbox {self.path}: cannot store event: {exc}") from exc
        return event_id

    def finish_hooks(self, event_id: int, outcomes: list[str], stale: bool) -> None:
        """Record the hooks' outcome and let the event's messages go (one transaction).

        Args:
            event_id: The event.
            outcomes: One line per hook.
            stale: The event's hooks were skipped: a newer event was applied instead.
        """
        self.finish_hooks_many([(event_id, outcomes, stale)])

    def newest_event(self, kind: str, name: str) -> tuple[int, StateEvent] | None:
        """The most recently received event of this instance (by receive order), with its id."""
        row = self._read(
            "SELECT e.id, e.time, e.kind, e.name, e.state, e.priority, e.boot, e.mono FROM events e"
            f" WHERE e.kind = :kind AND e.name = :name ORDER BY {_NEWEST_FIRST} LIMIT 1",
            {"kind": kind, "name": name, "boot": self.boot},
        ).fetchone()
        return None if row is None else (int(row["id"]), _event(row))

    def previous_state(self, event: StateEvent) -> str | None:
        """The state of the latest event of this instance received before ``event``."""
        if event.boot == self.boot:
            before = "(e.boot != :boot OR e.mono < :mono)"
        else:
            before = "(e.boot != :boot AND e.time < :time)"
        row = self._read(
            f"SELECT e.state FROM events e WHERE e.kind = :kind AND e.name = :name AND {before}"
            f" ORDER BY {_NEWEST_FIRST} LIMIT 1",
            {
                "kind": event.kind,
                "name": event.name,
                "boot": self.boot,
                "mono": event.mono,
                "time": event.time,
            },
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

    def recover_sending(self, now: float, delay: Callable[[int], float]) -> list[MessageRow]:
        """Messages a dead worker left in ``sending`` go back to pending, after a back-off.

        The channel may or may not have received such a message: it is sent again (lose
        nothing), ``delay(deaths)`` seconds from now, so that a worker that keeps dying cannot
        turn one alert into a stream of duplicates.

        Returns:
            The messages put back (to be logged), with ``crashes`` counting this death.
        """
        try:
            with self._transaction():
                rows = [
                    MessageRow(row)
                    for row in self.db.execute(_MESSAGE_SELECT + " WHERE m.status = 'sending'")
                ]
                for row in rows:
                    row.crashes += 1
                    self.db.execute(
                        "UPDATE messages SET status = 'pending', crashes = ?, next_attempt = ?,"
                        " updated = ? WHERE id = ?",
                        (row.crashes, now + delay(row.crashes), now, row.id),
                    )
        except sqlite3.Error as exc:
            raise damaged(self.path, exc) from exc
        return rows

    def expire(self, now: float, ttl: float) -> list[MessageRow]:
        """Mark pending messages older than ``ttl`` as expired; returns them (to log)."""
        try:
            with self._transaction():
                rows = [
                    MessageRow(row)
                    for row in self.db.execute(
                        _MESSAGE_SELECT
                        + " WHERE m.status IN ('pending', 'held') AND m.created < ?",
                        (now - ttl,),
                    )
                ]
                if rows:
                    self.db.execute(
                        f"UPDATE messages SET status = 'expired', updated = ? WHERE id IN ({','.join('?' * len(rows))})",
                        (now, *[row.id for row in rows]),
                    )
        except sqlite3.Error as exc:
            raise damaged(self.path, exc) from exc
        return rows

    def due_channels(self, now: float) -> list[str]:
        """Channels with at least one pending message due now."""
        rows = self._read(
            "SELECT DISTINCT channel FROM messages WHERE status = 'pending' AND next_attempt <= ? ORDER BY channel",
            (now,),
        )
        return [str(row["channel"]) for row in rows]

    def next_due(self) -> float | None:
        """When the next pending or held message is due, or None when there is none."""
        row = self._read(
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
        params: dict[str, object] = {"channel": channel, "boot": self.boot}
        head = self._read(
            _MESSAGE_SELECT
            + f" WHERE m.channel = :channel AND m.status = 'pending' ORDER BY {_EVENT_ORDER}, m.id LIMIT 1",
            params,
        ).fetchone()
        if head is None:
            return []
        group: dict[str, object] = {**params, "kind": head["kind"], "name": head["name"]}
        rows = self._read(
            _MESSAGE_SELECT
            + " WHERE m.channel = :channel AND m.status = 'pending' AND e.kind = :kind AND e.name = :name"
            f" ORDER BY {_EVENT_ORDER}, m.id",
            group,
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
        try:
            with self._transaction():
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
        except sqlite3.Error as exc:
            raise damaged(self.path, exc) from exc

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
        rows = self._read(
            "SELECT time FROM sends WHERE channel = ? AND time > ? ORDER BY time", (channel, since)
        )
        return [float(row["time"]) for row in rows]

    # -- administration ----------------------------------------------------------------------

    def messages(
        self, statuses: tuple[Status, ...] | None = None, limit: int = 200
    ) -> list[MessageRow]:
        """Messages, newest first, optionally only with the given statuses."""
        where = f" WHERE m.status IN ({','.join('?' * len(statuses))})" if statuses else ""
        rows = self._read(
            _MESSAGE_SELECT + where + " ORDER BY e.time DESC, m.id DESC LIMIT ?",
            (*(statuses or ()), limit),
        )
        return [MessageRow(row) for row in rows]

    def hooks_of(self, event_id: int) -> list[str] | None:
        """The hooks' outcome lines recorded for an event (None: not recorded)."""
        row = self._read("SELECT hooks FROM events WHERE id = ?", (event_id,)).fetchone()
        if row is None or row["hooks"] is None:
            return None
        lines = json.loads(row["hooks"])
        return [str(line) for line in lines] if isinstance(lines, list) else None

    def channel_stats(self, now: float) -> dict[str, tuple[int, float, int, int]]:
        """Per channel: ``(waiting, age of the oldest waiting in s, sent, failed or expired)``."""
        found: dict[str, tuple[int, float, int, int]] = {}
        rows = self._read(
            "SELECT channel,"
            " SUM(status IN ('held', 'pending', 'sending')),"
            " MIN(CASE WHEN status IN ('held', 'pending', 'sending') THEN created END),"
            " SUM(status = 'sent'), SUM(status IN ('failed', 'expired'))"
            " FROM messages GROUP BY channel"
        )
        for channel, waiting, oldest, sent, failed in rows:
            age = max(0.0, now - oldest) if oldest is not None else 0.0
            found[str(channel)] = (int(waiting or 0), age, int(sent or 0), int(failed or 0))
        return found

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
            f"UPDATE messages SET status = 'pending', crashes = 0, next_attempt = ?, created = MAX(created, ? - 1), updated = ? WHERE {where}",
            params,
        )
        return cursor.rowcount

    def purge(self, statuses: tuple[Status, ...], older_than: float) -> int:
        """Delete finished messages (and events left without messages) older than ``older_than`` s.

        The newest event of each instance is kept: it is what the next event's "previous
        state" is read from.
        """
        cutoff = time.time() - older_than
        try:
            with self._transaction():
                cursor = self.db.execute(
                    f"DELETE FROM messages WHERE status IN ({','.join('?' * len(statuses))}) AND updated < ?",
                    (*statuses, cutoff),
                )
                self.db.execute(
                    "DELETE FROM events WHERE time < ? AND id NOT IN (SELECT event_id FROM messages)"
                    " AND id NOT IN (SELECT MAX(id) FROM events GROUP BY kind, name)",
                    (cutoff,),
                )
                self.db.execute("DELETE FROM sends WHERE time < ?", (cutoff - 3600,))
        except sqlite3.Error as exc:
            raise damaged(self.path, exc) from exc
        return cursor.rowcount


def queue_event(
    config: Config,
    name: str,
    events: tuple[str, ...],
    cause: str,
    channels: list[str],
    *,
    kind: str = CHECK_KIND,
    stamp: dict[str, float | str] | None = None,
    busy: float = BUSY_BUDGET,
) -> int:
    """Store what a check (or a BFD session, or the split-brain watch) did, due after the
    configured ``coalesce`` hold, with one pending message per channel; return the event id.

    Args:
        config: The configuration (outbox path, node name, coalesce hold).
        name: The check's (session's) name.
        events: What happened, oldest first.
        cause: The summary the alert says.
        channels: The channels that alert it.
        kind: :data:`~kakit.core.events.CHECK_KIND` or another source's kind.
        stamp: When it happened (default: now).
        busy: Seconds to wait for another process's write lock.

    Raises:
        StateError: The outbox cannot be written.
    """
    from kakit.core.events import received_now

    stamp = stamp or received_now()
    with Outbox(config.outbox_path(), busy=busy) as outbox:
        return outbox.add_check_event(
            name,
            events,
            cause,
            node=config.node_name(),
            channels=channels,
            stamp=stamp,
            send_after=float(stamp["time"]) + config.outbox.coalesce,
            kind=kind,
        )


def damaged(path: str, exc: Exception) -> StateError:
    """The error for a database SQLite cannot use; a damaged file says how to get out."""
    if isinstance(exc, sqlite3.DatabaseError) and not isinstance(exc, sqlite3.OperationalError):
        return StateError(
            f"outbox {path} is damaged ({exc}): `kakit outbox repair` moves it aside, keeps it, "
            "and starts a new outbox with every message it can still read"
        )
    return StateError(f"outbox {path}: {exc}")


def repair(path: str) -> tuple[str, int, int]:
    """Move a damaged outbox aside and start a new one with what can still be read from it.

    Events and their undelivered messages are copied row by row (a damaged page loses the rows
    on it, not the rest); messages that were delivered, merged or failed are not carried over.
    The damaged file stays next to the new one, renamed, so nothing is silently dropped.

    Returns:
        ``(where the damaged file now is, events salvaged, messages salvaged)``.

    Raises:
        StateError: The file cannot be moved or the new outbox cannot be created.
    """
    aside = f"{path}.damaged-{time.strftime('%Y%m%dT%H%M%S')}"
    try:
        os.rename(path, aside)
        for suffix in ("-wal", "-shm"):
            if os.path.exists(path + suffix):
                os.rename(path + suffix, aside + suffix)
    except OSError as exc:
        raise StateError(f"cannot move {path} aside: {exc.strerror or exc}") from exc
    events: dict[int, sqlite3.Row] = {}
    messages: list[sqlite3.Row] = []
    try:
        old = sqlite3.connect(f"file:{aside}?mode=ro", uri=True)
        old.row_factory = sqlite3.Row
        events = {row["id"]: row for row in _salvage(old, "events")}
        messages = [
            row
            for row in _salvage(old, "messages")
            if row["status"] in ("held", "pending", "sending") and row["event_id"] in events
        ]
        old.close()
    except sqlite3.Error:
        pass  # nothing readable: the new outbox starts empty, the damaged file is kept
    with Outbox(path) as box, box._transaction():
        for event_id, row in events.items():
            box.db.execute(
                "INSERT INTO events (id, time, kind, name, state, priority, node, hooks, stale, boot,"
                " mono, cause, events) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    event_id,
                    row["time"],
                    row["kind"],
                    row["name"],
                    row["state"],
                    row["priority"],
                    row["node"],
                    row["hooks"],
                    row["stale"],
                    _column(row, "boot", ""),
                    _column(row, "mono", 0.0),
                    _column(row, "cause", ""),
                    _column(row, "events", ""),
                ),
            )
        now = time.time()
        for row in messages:
            box.db.execute(
                "INSERT INTO messages (id, event_id, channel, status, attempts, created, next_attempt, updated)"
                " VALUES (?, ?, ?, 'pending', ?, ?, ?, ?)",
                (
                    row["id"],
                    row["event_id"],
                    row["channel"],
                    row["attempts"],
                    row["created"],
                    now,
                    now,
                ),
            )
    return aside, len(events), len(messages)


def _salvage(db: sqlite3.Connection, table: str) -> list[sqlite3.Row]:
    """Every row of ``table`` that can be read, skipping damaged ranges."""
    rows: list[sqlite3.Row] = []
    try:
        (top,) = db.execute(f"SELECT MAX(rowid) FROM {table}").fetchone()
    except sqlite3.Error:
        top = 1_000_000
    start, step = 0, 256
    while start <= (top or 0):
        try:
            rows.extend(
                db.execute(
                    f"SELECT * FROM {table} WHERE rowid BETWEEN ? AND ?", (start, start + step - 1)
                )
            )
        except sqlite3.Error:
            for rowid in range(start, start + step):
                try:
                    rows.extend(db.execute(f"SELECT * FROM {table} WHERE rowid = ?", (rowid,)))
                except sqlite3.Error:
                    continue
        start += step
    return rows


def _column(row: sqlite3.Row, name: str, default: object) -> object:
    return row[name] if name in row.keys() else default  # noqa: SIM118 - `in row` tests values


def _event(row: sqlite3.Row) -> StateEvent:
    from kakit.core.events import StateEvent

    return StateEvent(
        kind=row["kind"],
        name=row["name"],
        state=row["state"],
        priority=row["priority"],
        time=row["time"],
        boot=row["boot"],
        mono=row["mono"],
    )
