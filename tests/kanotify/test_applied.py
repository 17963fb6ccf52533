"""Specification of kanotify's memory of what the hooks applied."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kakit.core.events import StateEvent
from kakit.kanotify.applied import AppliedStates

if TYPE_CHECKING:
    from pathlib import Path

    from kakit.core.events import Kind, State


def event(name: str, state: State, mono: float, kind: Kind = "INSTANCE") -> StateEvent:
    return StateEvent(
        kind=kind, name=name, state=state, priority=100, time=mono, boot="b1", mono=mono
    )


def test_newest_is_the_last_applied_over_all_instances(tmp_path: Path) -> None:
    """The node's hooks hold the state applied last, whichever instance or group it was."""
    memory = AppliedStates(str(tmp_path))
    memory.write(event("VI_1", "MASTER", 10.0))
    memory.write(event("web/front end", "BACKUP", 30.0))
    memory.write(event("G1", "FAULT", 20.0, kind="GROUP"))
    newest = memory.newest("b1")
    assert newest is not None
    assert (newest.name, newest.state) == ("web/front end", "BACKUP")


def test_nothing_applied_yet(tmp_path: Path) -> None:
    """A fresh boot (empty state directory) has no applied state to reconcile against."""
    assert AppliedStates(str(tmp_path)).newest("b1") is None


def test_unreadable_entries_are_ignored(tmp_path: Path) -> None:
    """A damaged or foreign file in the directory does not hide the real entries."""
    memory = AppliedStates(str(tmp_path))
    memory.write(event("VI_1", "MASTER", 10.0))
    (tmp_path / "applied" / "INSTANCE-broken").write_text("garbage\n")
    (tmp_path / "applied" / "stray").write_text("")
    newest = memory.newest("b1")
    assert newest is not None and newest.name == "VI_1"
