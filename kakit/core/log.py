"""Logging for processes keepalived starts: syslog first, stderr when a person is watching.

keepalived gives its scripts /dev/null as stdin, stdout and stderr, so a line printed there is
lost: every kakit tool writes to syslog (``/dev/log``, which journald also serves), to stderr when
it is a terminal, and to a file when the configuration names one (labs, containers without a
syslog daemon).

A line never goes nowhere: when neither syslog nor the configured file took it (no syslog
daemon, ``syslog: false`` without ``file``), it is appended to the fallback file,
``<data_dir>/kakit.log`` (:data:`FALLBACK_NAME`). That file is kept to
:data:`FALLBACK_MAX_BYTES` by rotation to one ``.1`` generation: the newest lines, those about
the trouble at hand, are always kept, and at most twice the limit is ever on disk. Only if that
fails too (read-only or refused data directory) is the line lost, and
``kakit config check`` says so (:func:`destinations`).

The stdlib ``logging`` and ``socket`` modules are not used: together they cost about 25 ms of
import time on the hot path (docs/benchmarks.md). The C ``_socket`` module gives the same
datagram socket for free.
"""

from __future__ import annotations

import os
import stat
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
#: The fallback log's name in the data directory, and its size before rotation.
FALLBACK_NAME = "kakit.log"
FALLBACK_MAX_BYTES = 4 << 20
_APPEND = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK


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
        self.syslog_socket = SYSLOG_PATH
        self.fallback: str | None = None
        self._socket: object | None = None
        self._fallback_ready = False

    def configure(
        self,
        *,
        ident: str | None = None,
        level: str | None = None,
        file: str | None = None,
        syslog: bool | None = None,
        stderr: bool | None = None,
        syslog_socket: str | None = None,
        fallback: str | None = None,
    ) -> None:
        """Change sinks or level; ``None`` keeps the current value.

        Args:
            ident: The program name in each line.
            level: error, warning, info or debug.
            file: Also append to this file ("" for none).
            syslog: Send to the syslog socket.
            stderr: Also write to stderr.
            syslog_socket: The syslog socket's path.
            fallback: The file that takes a line no other lasting sink took ("" for none).
        """
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
        if syslog_socket is not None and syslog_socket != self.syslog_socket:
            self.syslog_socket = syslog_socket
            self._close_socket()
        if fallback is not None:
            self.fallback = fallback or None
            self._fallback_ready = False

    def log(self, severity: int, message: str) -> None:
        """Emit ``message`` (one line; newlines are folded) at ``severity``."""
        if severity > self.level:
            return
        message = printable(message.replace("\n", " | "))
        name = _LEVEL_NAMES.get(severity, "info")
        kept = self.syslog and self._send_syslog(severity, message)
        if self.stderr is not None:
            try:
                self.stderr.write(f"{self.ident}: {name}: {message}\n")
                self.stderr.flush()
            except (OSError, ValueError):
                pass
        if self.file or (not kept and self.fallback):
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime())
            line = f"{stamp} {self.ident}[{os.getpid()}] {name}: {message}\n".encode()
            if self.file:
                kept = _append(self.file, line, 0o640) or kept
            if not kept and self.fallback:
                self._append_fallback(self.fallback, line)

    def _send_syslog(self, severity: int, message: str) -> bool:
        import _socket

        packet = f"<{_FACILITY_DAEMON * 8 + severity}>{self.ident}[{os.getpid()}]: {message}"
        try:
            if self._socket is None:
                sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_DGRAM)
                # Never wait for the syslog daemon: a stuck one (its buffer full) would hold
                # kacheck past keepalived's script timeout, on every node at once.
                sock.setblocking(False)
                try:
                    sock.connect(self.syslog_socket)
                except OSError:
                    sock.close()
                    raise
                self._socket = sock
            self._socket.send(packet.encode()[:8192])  # type: ignore[attr-defined]
        except BlockingIOError:
            return False  # the daemon is behind: this line goes to the file sinks, not lost
        except OSError:
            # No syslog daemon (containers, labs): not tried again by this process; the file
            # sinks take the line.
            self.syslog = False
            self._close_socket()
            return False
        return True

    def close(self) -> None:
        """Close the syslog socket (reopened by the next line)."""
        self._close_socket()

    def _close_socket(self) -> None:
        if self._socket is not None:
            self._socket.close()  # type: ignore[attr-defined]
            self._socket = None

    def _append_fallback(self, path: str, line: bytes) -> None:
        if not self._fallback_ready:
            # Once per process: root appends here, so the directory must pass the trust rule
            # (ensure_dir refuses one that someone else could change) before the first line.
            from kakit.core.fsutil import ensure_dir
            from kakit.exceptions import KakitError

            try:
                ensure_dir(os.path.dirname(path), 0o755)
            except KakitError:
                self.fallback = None
                return
            self._fallback_ready = True
        if not _append(path, line, 0o600, FALLBACK_MAX_BYTES):
            self.fallback = None  # read-only or full: the line is lost (see the module doc)

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


def _append(path: str, line: bytes, mode: int, limit: int | None = None) -> bool:
    """Append ``line`` to ``path``; rotate to ``path.1`` first past ``limit``. True if written.

    O_NOFOLLOW: root appends here, and a symlink planted in the log's place must not redirect
    the line into another file; O_NONBLOCK and the regular-file test: nor may a FIFO hang us.
    """
    try:
        fd = os.open(path, _APPEND, mode)
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                return False
            if limit is not None and info.st_size + len(line) > limit:
                # Only rotate the file we opened: a concurrent writer may have done it already.
                if os.stat(path).st_ino == info.st_ino:
                    os.replace(path, f"{path}.1")
                os.close(fd)
                fd = os.open(path, _APPEND, mode)
            os.write(fd, line)
        finally:
            os.close(fd)
    except OSError:
        return False
    return True


def destinations(
    *, syslog: bool, syslog_socket: str, file: str | None, fallback: str
) -> tuple[str, str | None]:
    """Where a line logged now would go, tried live as this user (``kakit config check``).

    Args:
        syslog: Whether syslog is on (``log.syslog``).
        syslog_socket: The syslog socket (``log.syslog_socket``).
        file: The configured ``log.file``.
        fallback: The fallback file in the data directory.

    Returns:
        ``(text, problem)``: ``logs: syslog (/dev/log)``, ``logs: /var/lib/kakit/kakit.log
        (no /dev/log: ...)``..., and a problem when lines would be lost.
    """
    sinks: list[str] = []
    missed: list[str] = []
    warning = None
    if syslog:
        problem = _try_syslog(syslog_socket)
        if problem is None:
            sinks.append(f"syslog ({syslog_socket})")
        else:
            missed.append(f"no {syslog_socket}: {problem}")
    else:
        missed.append("syslog off")
    if file:
        problem = _why_not_writable(file, create_dirs=False)
        if problem is None:
            sinks.append(file)
        else:
            missed.append(f"log.file {problem}")
            warning = f"log.file: {problem}"
    if not sinks:
        problem = _why_not_writable(fallback, create_dirs=True)
        if problem is None:
            sinks.append(fallback)
        else:
            missed.append(f"fallback {problem}")
            sinks.append("nowhere")
            warning = "log lines would be lost (under keepalived, stderr is /dev/null)"
    note = f" ({'; '.join(missed)})" if missed else ""
    return f"logs: {', '.join(sinks)}{note}", warning


def _try_syslog(path: str) -> str | None:
    import _socket

    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_DGRAM)
    try:
        sock.connect(path)
    except OSError as exc:
        return exc.strerror or str(exc)
    finally:
        sock.close()
    return None


def _why_not_writable(path: str, *, create_dirs: bool) -> str | None:
    """Why this user could not append to ``path`` (without creating anything), or None."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        directory = os.path.dirname(path)
        while create_dirs and not os.path.lexists(directory) and directory != "/":
            directory = os.path.dirname(directory)
        if not os.path.isdir(directory):
            return f"{path}: no directory {directory}"
        if not os.access(directory, os.W_OK | os.X_OK):
            return f"{path}: {directory} is not writable by uid {os.geteuid()}"
        return None
    except OSError as exc:
        return f"{path}: {exc.strerror or exc}"
    if not stat.S_ISREG(info.st_mode):
        return f"{path} is not a regular file"
    if not os.access(path, os.W_OK):
        return f"{path} is not writable by uid {os.geteuid()}"
    return None


def _isatty(stream: TextIO | None) -> bool:
    try:
        return stream is not None and stream.isatty()
    except (OSError, ValueError):
        return False


logger = Logger()
