"""flock-based locks on files under the state directory.

flock locks die with their process (SIGKILL included) and never need stale-lock cleanup; that is
why they are used instead of pid files or O_EXCL marker files.
"""

from __future__ import annotations

import fcntl
import os
import time

from kakit.exceptions import StateError


class FileLock:
    """An exclusive lock on one file, held until :meth:`release` or process exit.

    Args:
        path: The lock file; created with mode 0600 if missing (and ``create``).
        create: Create the file; False locks an existing file, opened read-only (flock needs
            no write access).
    """

    def __init__(self, path: str, *, create: bool = True) -> None:
        self.path = path
        self.create = create
        self._fd: int | None = None

    def _open(self) -> int:
        # O_NOFOLLOW: a symlink planted where root creates its lock must not be followed.
        flags = os.O_CLOEXEC | os.O_NOFOLLOW
        flags |= os.O_RDWR | os.O_CREAT if self.create else os.O_RDONLY
        try:
            return os.open(self.path, flags, 0o600)
        except OSError as exc:
            raise StateError(f"cannot open lock file {self.path}: {exc.strerror or exc}") from exc

    def try_acquire(self) -> bool:
        """Take the lock without waiting.

        Returns:
            True when this process now holds the lock, False when another process holds it.
        """
        fd = self._open()
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        except OSError as exc:
            os.close(fd)
            raise StateError(f"cannot lock {self.path}: {exc.strerror or exc}") from exc
        self._fd = fd
        return True

    def acquire(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for the lock (polling, so the wait stays bounded).

        Returns:
            True when acquired, False on timeout.
        """
        deadline = time.monotonic() + timeout
        delay = 0.002
        while True:
            if self.try_acquire():
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(delay)
            # Hundreds of waiters in a notify burst: polling must not eat the CPU the lock
            # holder needs, so the interval grows to 0.1 s.
            delay = min(delay * 2, 0.1)

    def release(self) -> None:
        """Drop the lock (closing the descriptor releases the flock)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> FileLock:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()
