"""atomic_write: the whole new content or the old, and fsync only when asked to be durable."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kakit.core.fsutil import atomic_write


@pytest.mark.parametrize("durable", [True, False], ids=["durable", "not-durable"])
def test_replaces_the_content_and_leaves_no_temporary_file(tmp_path: Path, durable: bool) -> None:
    """The file holds the new content with the given mode, and nothing else is left behind."""
    track = tmp_path / "track"
    track.write_text("0\n")
    atomic_write(str(track), "-254\n", 0o644, durable=durable)
    assert track.read_text() == "-254\n"
    assert track.stat().st_mode & 0o777 == 0o644
    assert sorted(p.name for p in tmp_path.iterdir()) == ["track"]


def test_not_durable_never_fsyncs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """durable=False (kaprobe's track files) costs no fsync, which a busy disk makes slow."""

    def refuse(fd: int) -> None:
        raise AssertionError("fsync called")

    monkeypatch.setattr(os, "fsync", refuse)
    atomic_write(str(tmp_path / "track"), "0\n", durable=False)
    with pytest.raises(AssertionError, match="fsync called"):
        atomic_write(str(tmp_path / "track"), "0\n")
