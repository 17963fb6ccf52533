"""Small file-system helpers: atomic writes and private directories.

An atomic write is tmp file in the same directory, fsync, rename, fsync of the directory: readers
(keepalived's track_file inotify watch, a concurrent kacheck) see the old or the new content,
never a torn one, and a crash or power loss leaves one of the two on disk.
"""

from __future__ import annotations

import os

from kakit.exceptions import StateError


def ensure_dir(path: str, mode: int = 0o755) -> str:
    """Create ``path`` (with ``mode``) and its parents (0755) if missing.

    The mode is set with chmod after mkdir: keepalived runs scripts with umask 0177, which would
    otherwise leave a new directory without its search bit (0600). Running as root, a directory
    that a non-root user owns or can write (or sits below one) is refused: whoever can write
    there can delete a latch, replace a state file or plant a symlink where root writes.

    Raises:
        StateError: The directory cannot be created, or the path is not a directory.
        ConfigError: Running as root, and someone else could change the directory.
    """
    if os.path.isdir(path):
        from kakit.core.trust import require_safe

        require_safe(path, "directory")
        return path
    parent = os.path.dirname(os.path.normpath(path))
    if parent and parent != path:
        ensure_dir(parent, 0o755)
    try:
        os.mkdir(path, mode)
        os.chmod(path, mode)
    except FileExistsError:
        if not os.path.isdir(path):
            raise StateError(f"cannot create directory {path}: not a directory") from None
    except OSError as exc:
        raise StateError(f"cannot create directory {path}: {exc.strerror or exc}") from exc
    return path


def atomic_write(path: str, data: bytes | str, mode: int = 0o644, *, durable: bool = True) -> None:
    """Replace ``path`` with ``data`` atomically (tmp + fsync + rename + directory fsync).

    Args:
        path: Destination file; its directory must exist.
        data: New content; text is written as UTF-8.
        mode: Permission bits of the new file (keepalived runs scripts with umask 0177, so the
            mode is set explicitly rather than inherited).
        durable: fsync the file and the directory. Without, readers still see the old or the
            new content, never a mix, but a crash may lose the write: for files that matter
            only while the machine runs and must change at once (kaprobe's track files; an
            fsync on a busy disk takes milliseconds to tens of them).

    Raises:
        StateError: Any step failed; the old content is left in place.
    """
    raw = data.encode() if isinstance(data, str) else data
    directory = os.path.dirname(path) or "."
    # An unpredictable name, created exclusively and never through a symlink: a user who can
    # guess the name (the pid was enough) could otherwise point it at /etc and let root write
    # there. The rename then replaces the destination itself, even if that is a symlink.
    tmp = os.path.join(directory, f".{os.path.basename(path)}.{os.urandom(8).hex()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
        try:
            os.fchmod(fd, mode)
            view = memoryview(raw)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(tmp, path)
        if durable:
            dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
    except OSError as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise StateError(f"cannot write {path}: {exc.strerror or exc}") from exc


def read_text(path: str) -> str | None:
    """The file's text, or None when it does not exist (a symlink in its place is an error).

    Raises:
        StateError: The file exists but cannot be read.
    """
    import stat

    try:
        # O_NONBLOCK: a FIFO put in the file's place must not hang the reader (kacheck runs
        # every second) waiting for a writer; a regular file reads the same with it.
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        with open(fd, encoding="utf-8", errors="replace") as handle:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise StateError(f"cannot read {path}: not a regular file")
            return handle.read()
    except FileNotFoundError:
        return None
    except OSError as exc:
        import errno

        why = "a symbolic link, not followed" if exc.errno == errno.ELOOP else exc.strerror
        raise StateError(f"cannot read {path}: {why or exc}") from exc
