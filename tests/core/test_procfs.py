"""procfs: telling a master from the workers a dead master left behind, on a fake /proc."""

from __future__ import annotations

from pathlib import Path

import pytest

from kakit.core import procfs


@pytest.fixture(name="fake_proc")
def _fake_proc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty fake /proc that procfs reads instead of the real one."""
    monkeypatch.setattr(procfs, "PROC", str(tmp_path))
    return tmp_path


def add(proc: Path, pid: int, ppid: int, pgrp: int, session: int, state: str = "S") -> None:
    """A fake ``/proc/PID/stat`` of an apache2 process."""
    (proc / str(pid)).mkdir()
    (proc / str(pid) / "stat").write_text(f"{pid} (apache2) {state} {ppid} {pgrp} {session} 0\n")


class TestOrphans:
    """`is_orphan` and `masters`: workers whose master is gone are never masters."""

    def test_workers_of_a_dead_master_are_orphans(self, fake_proc: Path) -> None:
        """Re-parented to pid 1, in the dead master's group and session: orphans, no master."""
        for worker in (101, 102):
            add(fake_proc, worker, ppid=1, pgrp=100, session=100)
        infos = [procfs.read_stat(pid) for pid in (101, 102)]

        assert all(info is not None and procfs.is_orphan(info) for info in infos)
        assert procfs.masters([info for info in infos if info is not None]) == []

    def test_a_zombie_master_counts_as_gone(self, fake_proc: Path) -> None:
        """A master not reaped yet (a zombie) leaves its workers orphaned all the same."""
        add(fake_proc, 100, ppid=1, pgrp=100, session=100, state="Z")
        add(fake_proc, 101, ppid=1, pgrp=100, session=100)
        info = procfs.read_stat(101)
        assert info is not None and procfs.is_orphan(info)

    def test_master_that_leads_its_group_is_no_orphan(self, fake_proc: Path) -> None:
        """A nohup'd master whose shell (session leader) exited still leads its group: master."""
        add(fake_proc, 200, ppid=1, pgrp=200, session=150)
        add(fake_proc, 201, ppid=200, pgrp=200, session=150)
        infos = [info for info in map(procfs.read_stat, (200, 201)) if info is not None]

        assert not any(procfs.is_orphan(info) for info in infos)
        assert [info.pid for info in procfs.masters(infos)] == [200]

    def test_live_master_and_its_workers(self, fake_proc: Path) -> None:
        """A live daemon: the master is the master, its workers are neither masters nor orphans."""
        add(fake_proc, 300, ppid=1, pgrp=300, session=300)
        add(fake_proc, 301, ppid=300, pgrp=300, session=300)
        infos = [info for info in map(procfs.read_stat, (300, 301)) if info is not None]

        assert not any(procfs.is_orphan(info) for info in infos)
        assert [info.pid for info in procfs.masters(infos)] == [300]
