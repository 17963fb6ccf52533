"""``sysctl``: write kernel parameters through ``/proc/sys`` and read them back.

No ``sysctl(8)`` process: a write is one ``open``/``write`` on the file behind the dotted name,
which costs microseconds inside keepalived's notify budget. Each value is read first and left
alone when it already matches (keepalived reports states twice, e.g. at reload), then written
and read back, comparing with whitespace normalized (the kernel prints multi-value keys with
tabs). Network sysctls are per network namespace: the hook changes the namespace it runs in.
"""

from __future__ import annotations

from kakit.core.converters import Node
from kakit.core.record import frozen, option
from kakit.exceptions import HookError
from kakit.hooks.base import HookOutcome, StateChange

TYPE_CHECKING = False
if TYPE_CHECKING:
    from kakit.hooks.spec import HookSettings

SYSCTL_ROOT = "/proc/sys"
"""Where dotted sysctl names are mapped to files (``a.b.c`` is ``/proc/sys/a/b/c``)."""

_SYSCTL_EXPECTED = (
    "a sysctl name of dot-separated words of letters, digits, _ and -, "
    "such as net.ipv4.ip_nonlocal_bind"
)


def sysctl_path(name: str, root: str = SYSCTL_ROOT) -> str:
    """The file behind a validated dotted sysctl name: ``net.ipv4.x`` is ``/proc/sys/net/ipv4/x``."""
    return root + "/" + name.replace(".", "/")


def sysctl_values(node: Node) -> dict[str, str]:
    """``{dotted.name: value}`` with names checked and values as the text to write.

    A name is two or more dot-separated words of letters, digits, ``_`` and ``-``, so it can
    only ever name a file below ``/proc/sys`` (no ``/``, no ``..``, no empty word). Values are
    integers or non-empty strings (``"32768 60999"`` for multi-value keys); booleans and floats
    are refused because the kernel reads neither.
    """
    import re

    valid = re.compile(r"[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)+")
    values: dict[str, str] = {}
    for name, child in node.mapping("a mapping of sysctl names to values").items():
        if not valid.fullmatch(name):
            raise child.error(_SYSCTL_EXPECTED + f" (not {name!r})", show_value=False)
        value = child.value
        if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).strip():
            raise child.error("an integer or a non-empty string")
        if isinstance(value, str) and ("\n" in value or "\x00" in value):
            raise child.error("a single-line value")
        values[name] = str(value).strip()
    return values


@frozen
class SysctlOptions:
    """The ``sysctl`` key of a state.

    Attributes:
        sysctl: ``{dotted.name: value}`` written to ``/proc/sys`` and read back.
    """

    sysctl: dict[str, str] = option(sysctl_values)


def normalize(text: str) -> str:
    """A sysctl value with its whitespace normalized (the kernel separates values with tabs)."""
    return " ".join(text.split())


def read_sysctl(path: str) -> str:
    """The raw text of the sysctl file ``path``.

    Raises:
        OSError: The key does not exist or cannot be read (:func:`reason` says why).
    """
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


def reason(exc: OSError, path: str) -> str:
    """Why reading or writing the sysctl file ``path`` failed, in a few words."""
    import errno

    if exc.errno == errno.ENOENT:
        return f"no such key ({path} does not exist)"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return f"permission denied writing {path}"
    if exc.errno == errno.EINVAL:
        return "the kernel refused the value (EINVAL)"
    return f"{exc.strerror or exc} ({path})"


def set_sysctl(label: str, path: str, value: str) -> bool:
    """Set the sysctl file ``path`` to ``value`` unless it has it already, and read it back.

    Args:
        label: How messages name the key (``net.ipv4.conf.all.arp_ignore``).
        path: Its file below ``/proc/sys``.
        value: The text to write.

    Returns:
        True when written, False when it already had the value.

    Raises:
        HookError: The key is missing, not writable, refused the value or read back different.
    """
    wanted = normalize(value)
    try:
        if normalize(read_sysctl(path)) == wanted:
            return False
        _write(path, value)
        now = normalize(read_sysctl(path))
    except OSError as exc:
        raise HookError(f"{label}={value}: {reason(exc, path)}") from exc
    if now != wanted:
        raise HookError(f"{label}={value}: read back {now!r} after writing")
    return True


class SysctlHook:
    """Set sysctl values and verify them.

    Every key is attempted; if any fails, :class:`HookError` names each failed key, its value
    and the reason, and says how many others were set.

    Args:
        options: The state's ``sysctl`` values.
        settings: The ``hooks`` section (nothing in it concerns this hook).
        root: The sysctl tree (tests point it at a directory).
    """

    name = "sysctl"
    options_class = SysctlOptions

    def __init__(
        self, options: SysctlOptions, settings: HookSettings, *, root: str = SYSCTL_ROOT
    ) -> None:
        self.values = dict(options.sysctl)
        self.root = root

    def _apply(self, key: str, value: str) -> bool:
        """Set one key; True when written, False when it already had the value."""
        return set_sysctl(key, sysctl_path(key, self.root), value)

    def drift(self, state: str) -> str | None:
        """The keys whose value differs from the state's (``key is 0, not 1``); None if none."""
        found = []
        for key, value in self.values.items():
            path = sysctl_path(key, self.root)
            try:
                now = normalize(read_sysctl(path))
            except OSError as exc:
                found.append(f"{key} unreadable: {reason(exc, path)}")
                continue
            if now != normalize(value):
                found.append(f"{key} is {now}, not {value}")
        return "; ".join(found) or None

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
