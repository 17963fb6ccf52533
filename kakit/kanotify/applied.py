"""What the hooks last applied, per instance: kanotify's ordering memory.

One small file per instance under ``<state_dir>/applied/`` (tmpfs: it starts empty at boot, when
the node has no applied state either). It is written under the notify lock after the hooks ran,
and read before the next event's hooks, so a late event can be told from a newer one without
the outbox: alerting may be broken (full disk, corrupt database) and hooks must still be
ordered. One line: ``BOOT MONO TIME PRIORITY STATE``.
"""

from __future__ import annotations

import os
from urllib.parse import quote, unquote_to_bytes

from kakit.core.events import StateEvent
from kakit.core.fsutil import atomic_write, ensure_dir

TYPE_CHECKING = False
if TYPE_CHECKING:
    from kakit.core.events import Kind


class AppliedStates:
    """The last applied event of each instance, as files under ``state_dir/applied``."""

    def __init__(self, state_dir: str) -> None:
        self.directory = os.path.join(state_dir, "applied")

    def _path(self, kind: str, name: str) -> str:
        # Instance names are keepalived data (any bytes, even '/'), so they are quoted.
        raw = name.encode("utf-8", "surrogateescape")
        return os.path.join(self.directory, f"{kind}-{quote(raw, safe='')}")

    def read(self, kind: Kind, name: str) -> StateEvent | None:
        """The event last applied for this instance, None when unknown or unreadable."""
        from kakit.core.events import STATES

        try:
            with open(self._path(kind, name), encoding="ascii") as handle:
                boot, mono, wall, priority, state = handle.read().split()
            for known in STATES:
                if state == known:
                    return StateEvent(
                        kind=kind,
                        name=name,
                        state=known,
                        priority=int(priority),
                        time=float(wall),
                        boot=boot,
                        mono=float(mono),
                    )
        except (OSError, ValueError, UnicodeDecodeError):
            pass
        return None

    def all(self) -> list[StateEvent]:
        """The last applied event of every instance and group (unreadable entries left out)."""
        from kakit.core.events import KINDS

        try:
            names = sorted(os.listdir(self.directory))
        except OSError:
            return []
        found: list[StateEvent] = []
        for entry in names:
            kind, _, quoted = entry.partition("-")
            for known in KINDS:
                if kind == known:
                    name = unquote_to_bytes(quoted).decode("utf-8", "surrogateescape")
                    event = self.read(known, name)
                    if event is not None:
                        found.append(event)
        return found

    def newest(self, current_boot: str) -> StateEvent | None:
        """The event applied last, over every instance and group: what the node's hooks hold now.

        Hooks act on the node as a whole (one firewall chain, one sysctl tree), so the event
        applied last is the one they reflect.
        """
        found = self.all()
        return max(found, key=lambda event: event.order(current_boot), default=None)

    def write(self, event: StateEvent) -> None:
        """Remember ``event`` as applied.

        Raises:
            StateError: The state directory is unusable.
        """
        ensure_dir(self.directory, 0o700)
        line = f"{event.boot or '-'} {event.mono!r} {event.time!r} {event.priority} {event.state}\n"
        atomic_write(self._path(event.kind, event.name), line, 0o600)
