"""Logging for processes keepalived starts: syslog first, stderr when a person is watching.

keepalived gives its scripts /dev/null as stdin, stdout and stderr, so a line printed there is
lost: every kakit tool writes to syslog (``/dev/log``, which journald also serves), to stderr when
it is a terminal, and to a file when the configuration names one (labs, containers without a
syslog daemon).

The stdlib ``logging`` and ``socket`` modules are not used: together they cost about 25 ms of
import time on the hot path (docs/benchmarks.md). The C ``_socket`` module gives the same
datagram socket for free.
"""

from __future__ import annotations

import os
import sys
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import TextIO

# syslog severities (RFC 5424)
ERROR = 3
WARNING = 4
INFO = 6
DEBUG = 7
LEVELS = {"error": ERROR, "warning": WARNING, "info": INFO, "debug": DEBUG}
_LEVEL_NAMES = {value: key for key, value in LEVELS.items()}
_FACILITY_DAEMON = 3
SYSLOG_PATH = "/dev/log"


def printable(text: str) -> str:
    """``text`` safe for one log line: undecodable bytes as ``\\xNN``, control characters escaped.

    Arguments reach kakit as bytes (keepalived passes what its config file holds; Python turns
    bytes that are not UTF-8 into surrogates), and a log line must neither fail to encode nor
    carry a terminal escape sequence or a forged second line.
    """
    if text.isprintable():
        return text
    raw = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return "".join(
        char if char.isprintable() or char == " " else char.encode("unicode_escape").decode("ascii")
        for char in raw
    )


class Logger:
    """Writes one line per event to every configured sink; never raises."""

    def __init__(self) -> None:
        self.ident = os.path.basename(sys.argv[0]) or "kakit"
        self.level = INFO
        self.file: str | None = None
        self.stderr: TextIO | None = sys.stderr if _isatty(sys.stderr) else None
        self.syslog = True
        self._socket: object | None = None

    def configure(
        self,
        *,
        ident: str | None = None,
        level: str | None = None,
        file: str | None = None,
        syslog: bool | None = None,
        stderr: bool | None = None,
    ) -> None:
        """Change sinks or level; ``None`` keeps the current value."""
        if ident is not None:
            self.ident = ident
        if level is not None:
            self.level = LEVELS[level]
        if file is not None:
            self.file = file or None
        if syslog is not None:
            self.syslog = syslog
        if stderr is not None:
            self.stderr = sys.stderr if stderr else None

    def log(self, severity: int, message: str) -> None:
        """Emit ``message`` (one line; newlines are folded) at ``severity``."""
        if severity > self.level:
            return
        message = printable(message.replace("\n", " | "))
        name = _LEVEL_NAMES.get(severity, "info")
        if self.syslog:
            self._send_syslog(severity, message)
        if self.stderr is not None:
            try:
                self.stderr.write(f"{self.ident}: {name}: {message}\n")
                self.stderr.flush()
            except (OSError, ValueError):
                pass
        if self.file:
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime())
            line = f"{stamp} {self.ident}[{os.getpid()}] {name}: {message}\n"
            try:
                # O_NOFOLLOW: root appends here; a symlink planted in the log's place must not
                # redirect the line into another file.
                fd = os.open(
                    self.file,
                    os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW,
                    0o640,
                )
                try:
                    os.write(fd, line.encode())
                finally:
                    os.close(fd)
            except OSError:
                pass

    def _send_syslog(self, severity: int, message: str) -> None:
        import _socket

        packet = f"<{_FACILITY_DAEMON * 8 + severity}>{self.ident}[{os.getpid()}]: {message}"
        try:
            if self._socket is None:
                sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_DGRAM)
                try:
                    sock.connect(SYSLOG_PATH)
                except OSError:
                    sock.close()
                    raise
                self._socket = sock
            self._socket.send(packet.encode()[:8192])  # type: ignore[attr-defined]
        except OSError:
            # No syslog daemon (containers, labs): the other sinks still get the line.
            self.syslog = False

    def error(self, message: str) -> None:
        """Log at error severity."""
        self.log(ERROR, message)

    def warning(self, message: str) -> None:
        """Log at warning severity."""
        self.log(WARNING, message)

    def info(self, message: str) -> None:
        """Log at info severity."""
        self.log(INFO, message)

    def debug(self, message: str) -> None:
        """Log at debug severity."""
        self.log(DEBUG, message)


def _isatty(stream: TextIO | None) -> bool:
    try:
        return stream is not None and stream.isatty()
    except (OSError, ValueError):
        return False


logger = Logger()
