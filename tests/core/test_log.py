"""Specification of the logger's sinks: syslog, the configured file, and the fallback file."""

from __future__ import annotations

import os
import socket
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from kakit.core import log
from kakit.core.log import Logger, destinations


@pytest.fixture(name="syslog_socket")
def _syslog_socket(tmp_path: Path) -> Iterator[tuple[str, socket.socket]]:
    """A datagram socket standing in for /dev/log: ``(path, socket)``."""
    path = str(tmp_path / "dev-log")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(path)
    server.settimeout(5)
    try:
        yield path, server
    finally:
        server.close()


def quiet_logger(tmp_path: Path, syslog_socket: str) -> Logger:
    """A logger with no stderr, the given syslog socket and a fallback in ``tmp_path/lib``."""
    logger = Logger()
    logger.configure(
        ident="kacheck",
        stderr=False,
        syslog_socket=syslog_socket,
        fallback=str(tmp_path / "lib" / "kakit.log"),
    )
    return logger


class TestFallback:
    """A line that no syslog daemon and no configured file took goes to the data directory."""

    def test_no_syslog_socket(self, tmp_path: Path) -> None:
        """With the syslog socket missing, the line lands in <data_dir>/kakit.log, mode 0600."""
        logger = quiet_logger(tmp_path, str(tmp_path / "missing-socket"))
        logger.warning("nginx: FAIL: down")
        fallback = tmp_path / "lib" / "kakit.log"
        assert fallback.read_text().endswith(" warning: nginx: FAIL: down\n")
        assert stat.S_IMODE(fallback.stat().st_mode) == 0o600

    def test_syslog_taking_the_line(
        self, tmp_path: Path, syslog_socket: tuple[str, socket.socket]
    ) -> None:
        """When syslog takes the line, it is not also written to the fallback file."""
        path, server = syslog_socket
        logger = quiet_logger(tmp_path, path)
        logger.info("nginx: OK")
        logger.close()
        assert server.recv(4096).decode().endswith(f"kacheck[{os.getpid()}]: nginx: OK")
        assert not (tmp_path / "lib" / "kakit.log").exists()

    def test_configured_file_is_enough(self, tmp_path: Path) -> None:
        """`syslog: false` with a `file`: the file has the line, the fallback nothing."""
        logger = quiet_logger(tmp_path, "/dev/log")
        logger.configure(syslog=False, file=str(tmp_path / "mine.log"))
        logger.info("hello")
        assert (tmp_path / "mine.log").read_text().endswith(" info: hello\n")
        assert not (tmp_path / "lib" / "kakit.log").exists()

    def test_rotates_at_the_limit(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """Past the size limit the file moves to kakit.log.1 and a new one starts: the newest
        lines are kept, and at most two files exist."""
        monkeypatch.setattr(log, "FALLBACK_MAX_BYTES", 200)
        logger = quiet_logger(tmp_path, str(tmp_path / "missing-socket"))
        for number in range(12):
            logger.info(f"line {number:02d} " + "x" * 40)
        current = (tmp_path / "lib" / "kakit.log").read_text()
        older = (tmp_path / "lib" / "kakit.log.1").read_text()
        assert "line 11 " in current and "line 00 " not in older + current
        assert len(current) <= 200 and sorted(os.listdir(tmp_path / "lib")) == [
            "kakit.log",
            "kakit.log.1",
        ]

    def test_symlink_is_not_followed(self, tmp_path: Path) -> None:
        """A symlink planted in the fallback's place is not written through."""
        (tmp_path / "lib").mkdir()
        target = tmp_path / "elsewhere"
        target.write_text("")
        (tmp_path / "lib" / "kakit.log").symlink_to(target)
        logger = quiet_logger(tmp_path, str(tmp_path / "missing-socket"))
        logger.error("nope")
        assert target.read_text() == ""


class TestDestinations:
    """`kakit config check` says where lines go, tried live."""

    def test_syslog(self, tmp_path: Path, syslog_socket: tuple[str, socket.socket]) -> None:
        """A listening socket: logs go to syslog, nothing to warn about."""
        path, _server = syslog_socket
        found = destinations(
            syslog=True, syslog_socket=path, file=None, fallback=str(tmp_path / "kakit.log")
        )
        assert found == (f"logs: syslog ({path})", None)

    def test_fallback(self, tmp_path: Path) -> None:
        """No socket and no file: the fallback file, and why."""
        missing = str(tmp_path / "missing-socket")
        fallback = str(tmp_path / "lib" / "kakit.log")
        found = destinations(syslog=True, syslog_socket=missing, file=None, fallback=fallback)
        assert found == (f"logs: {fallback} (no {missing}: No such file or directory)", None)

    def test_nowhere(self, tmp_path: Path) -> None:
        """Syslog off and a fallback that cannot exist: a warning that lines would be lost."""
        text, warning = destinations(
            syslog=False, syslog_socket="/dev/log", file=None, fallback="/dev/null/kakit.log"
        )
        assert text.startswith("logs: nowhere (syslog off; fallback ")
        assert warning is not None and "lost" in warning
