"""atomic_write: the whole new content or the old, and fsync only when asked to be durable."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kakit.core.fsutil import atomic_write, read_text
from kakit.exceptions import StateError


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


class TestReadText:
    """read_text: the text of a regular file, None when absent, one StateError line otherwise."""

    def test_missing_file_is_none(self, tmp_path: Path) -> None:
        """No file, no state."""
        assert read_text(str(tmp_path / "none")) is None

    @pytest.mark.timeout(10)
    def test_fifo_in_its_place_is_an_error_not_a_hang(self, tmp_path: Path) -> None:
        """A FIFO where a state file belongs is refused at once, not waited on for a writer."""
        os.mkfifo(tmp_path / "state.json")
        with pytest.raises(StateError, match=r"state\.json: not a regular file$"):
            read_text(str(tmp_path / "state.json"))

    def test_symlink_is_named_as_such(self, tmp_path: Path) -> None:
        """A symlink in the file's place is not followed, and the message says it is one."""
        (tmp_path / "elsewhere").write_text("{}")
        (tmp_path / "state.json").symlink_to(tmp_path / "elsewhere")
        with pytest.raises(StateError, match=r"state\.json: a symbolic link, not followed$"):
            read_text(str(tmp_path / "state.json"))
