"""``sysctl``: write kernel parameters through ``/proc/sys`` and read them back.

No ``sysctl(8)`` process: a write is one ``open``/``write`` on the file behind the dotted name,
which costs microseconds inside keepalived's notify budget. Each value is read first and left
alone when it already matches (keepalived reports states twice, e.g. at reload), then written
and read back, comparing with whitespace normalized (the kernel prints multi-value keys with
tabs). Network sysctls are per network namespace: the hook changes the namespace it runs in.
"""

from __future__ import annotations

from kakit.exceptions import HookError
from kakit.hooks.base import HookOutcome, StateChange
from kakit.hooks.settings import SYSCTL_ROOT, sysctl_path

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping


def _normalize(text: str) -> str:
    return " ".join(text.split())


def _read(path: str) -> str:
    import os

    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        return os.read(fd, 4096).decode(errors="replace")
    finally:
        os.close(fd)


def _write(path: str, value: str) -> None:
    import os

    # O_WRONLY without O_CREAT/O_TRUNC: a missing key is ENOENT, never an attempt to create it.
    fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(fd, (value + "\n").encode())
    finally:
        os.close(fd)


def _reason(exc: OSError, path: str) -> str:
    import errno

    if exc.errno == errno.ENOENT:
        return f"no such key ({path} does not exist)"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return f"permission denied writing {path}"
    if exc.errno == errno.EINVAL:
        return "the kernel refused the value (EINVAL)"
    return f"{exc.strerror or exc} ({path})"


class SysctlHook:
    """Set sysctl values and verify them.

    Every key is attempted; if any fails, :class:`HookError` names each failed key, its value
    and the reason, and says how many others were set.

    Args:
        values: ``{dotted.name: value}`` as validated by :func:`kakit.hooks.settings.sysctl_values`.
        root: The sysctl tree (tests point it at a directory).
    """

    name = "sysctl"

    def __init__(self, values: Mapping[str, str], *, root: str = SYSCTL_ROOT) -> None:
        self.values = dict(values)
        self.root = root

    def _apply(self, key: str, value: str) -> bool:
        """Set one key; True when written, False when it already had the value."""
        path = sysctl_path(key, self.root)
        wanted = _normalize(value)
        try:
            if _normalize(_read(path)) == wanted:
                return False
            _write(path, value)
            now = _normalize(_read(path))
        except OSError as exc:
            raise HookError(f"{key}={value}: {_reason(exc, path)}") from exc
        if now != wanted:
            raise HookError(f"{key}={value}: read back {now!r} after writing")
        return True

    def __call__(self, change: StateChange) -> HookOutcome:
        """Apply every value.

        Raises:
            HookError: A key is missing, not writable, refused its value or read back different.
        """
        written: list[str] = []
        unchanged = 0
        failures: list[str] = []
        for key, value in self.values.items():
            try:
                if self._apply(key, value):
                    written.append(f"{key}={value}")
                else:
                    unchanged += 1
            except HookError as exc:
                failures.append(str(exc))
        done = _summary(written, unchanged)
        if failures:
            rest = f"; {done}" if done else ""
            raise HookError(f"sysctl: failed {'; '.join(failures)}{rest}")
        return HookOutcome(hook=self.name, summary=f"sysctl: {done or 'nothing to set'}")


def _summary(written: list[str], unchanged: int) -> str:
    parts = []
    if written:
        parts.append(f"{len(written)} set ({', '.join(written)})")
    if unchanged:
        parts.append(f"{unchanged} already set")
    return ", ".join(parts)
