"""Located configuration values and the small named converters that validate them.

Every YAML value travels as a :class:`Node` that remembers its file, line and key path, so a
converter that rejects it can say exactly where and why::

    /etc/kakit/kakit.yaml:12: checks.nginx.restart.max: expected an integer >= 1, got 'two'

Converters take a node and return a plain Python value or raise :class:`ConfigError`. They import
nothing heavy: kacheck builds its built-in presets through them on every run.
"""

from __future__ import annotations

from kakit.core.record import MISSING, fields, is_record
from kakit.exceptions import ConfigError, raise_collected

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, TypeVar

    T = TypeVar("T")
    Converter = Callable[["Node"], Any]


class Node:
    """A configuration value with its origin.

    Attributes:
        value: A scalar, ``dict[str, Node]`` for a mapping or ``list[Node]`` for a sequence.
        file: The file it came from (or ``<built-in preset nginx>``).
        line: 1-based line number, 0 when unknown.
        path: Dotted key path, ``checks.nginx.restart.max``; list items as ``probes[1]``.
    """

    __slots__ = ("file", "line", "path", "value")

    def __init__(self, value: Any, file: str, line: int, path: str) -> None:
        self.value = value
        self.file = file
        self.line = line
        self.path = path

    @property
    def where(self) -> str:
        """``file:line`` (line omitted when unknown)."""
        return f"{self.file}:{self.line}" if self.line else self.file

    def error(self, expected: str, *, show_value: bool = True) -> ConfigError:
        """A ConfigError naming file, line, key path, the value and what was expected."""
        got = f", got {plain(self)!r}" if show_value else ""
        error = ConfigError(f"{self.where}: {self.path or '(top level)'}: expected {expected}{got}")
        error.line = self.line
        return error

    def child(self, key: str | int, value: Any, line: int | None = None) -> Node:
        """A node below this one (used when building nodes from Python data)."""
        path = f"{self.path}[{key}]" if isinstance(key, int) else _join(self.path, key)
        return Node(value, self.file, self.line if line is None else line, path)

    def mapping(self, expected: str = "a mapping") -> dict[str, Node]:
        """The value as a mapping of nodes, or a ConfigError."""
        if not isinstance(self.value, dict):
            raise self.error(expected)
        return self.value

    def __repr__(self) -> str:
        return f"Node({self.where} {self.path}={plain(self)!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Node):
            return NotImplemented
        return (self.value, self.file, self.line, self.path) == (
            other.value,
            other.file,
            other.line,
            other.path,
        )

    __hash__ = None  # type: ignore[assignment]  # mutable while a tree is being built


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def from_python(value: Any, file: str, path: str = "", line: int = 0) -> Node:
    """Wrap plain Python data (presets, defaults) as nodes."""
    node = Node(None, file, line, path)
    if isinstance(value, dict):
        node.value = {
            str(k): from_python(v, file, _join(path, str(k)), line) for k, v in value.items()
        }
    elif isinstance(value, list | tuple):
        node.value = [from_python(v, file, f"{path}[{i}]", line) for i, v in enumerate(value)]
    else:
        node.value = value
    return node


def plain(node: Node) -> Any:
    """The node's value with all nesting unwrapped to plain Python."""
    value = node.value
    if isinstance(value, dict):
        return {key: plain(child) for key, child in value.items()}
    if isinstance(value, list):
        return [plain(child) for child in value]
    return value


# --- scalars ---------------------------------------------------------------------------------


def boolean(node: Node) -> bool:
    """``true``/``false`` (YAML booleans only: a quoted "false" is a typo to report)."""
    if not isinstance(node.value, bool):
        raise node.error("true or false")
    return node.value


def string(node: Node) -> str:
    """A non-empty string."""
    if not isinstance(node.value, str) or not node.value.strip():
        raise node.error("a non-empty string")
    return node.value


def optional_string(node: Node) -> str | None:
    """A non-empty string or null."""
    return None if node.value is None else string(node)


def absolute_path(node: Node) -> str:
    """An absolute file-system path."""
    if not isinstance(node.value, str) or not node.value.startswith("/"):
        raise node.error("an absolute path (starting with /)")
    return node.value


def optional_path(node: Node) -> str | None:
    """An absolute path or null."""
    return None if node.value is None else absolute_path(node)


def integer(low: int | None = None, high: int | None = None) -> Converter:
    """A converter for whole numbers in ``[low, high]``."""
    if low is not None and high is not None:
        expected = f"an integer from {low} to {high}"
    elif low is not None:
        expected = f"an integer >= {low}"
    else:
        expected = "an integer"

    def convert(node: Node) -> int:
        value = node.value
        if isinstance(value, bool) or not isinstance(value, int):
            raise node.error(expected)
        if (low is not None and value < low) or (high is not None and value > high):
            raise node.error(expected)
        return value

    return convert


def optional(convert: Converter) -> Converter:
    """Wrap a converter so that null passes as None."""

    def convert_optional(node: Node) -> Any:
        return None if node.value is None else convert(node)

    return convert_optional


def port(node: Node) -> int:
    """A TCP/UDP port, 1..65535."""
    return integer(1, 65535)(node)  # type: ignore[no-any-return]


_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_DURATION_EXPECTED = "a duration in seconds such as 0.2, '200ms', '3s', '5m' or '1h'"


def _parse_duration(node: Node) -> float:
    value = node.value
    if isinstance(value, bool):
        raise node.error(_DURATION_EXPECTED)
    if isinstance(value, int | float):
        # x - x is 0.0 only for a finite x: YAML's .nan and .inf are not durations (a timeout of
        # nan never expires, a sleep of inf overflows).
        if float(value) - float(value) == 0.0:
            return float(value)
        raise node.error(_DURATION_EXPECTED)
    if isinstance(value, str):
        text = value.strip()
        # "ms" before "m" and "s": the longest unit suffix wins.
        for unit in ("ms", "s", "m", "h"):
            if text.endswith(unit):
                number = text[: -len(unit)].strip()
                # Plain decimals only: float() would also take "nan", "inf", "1_0" and "٣".
                if number.isascii() and number.replace(".", "", 1).isdigit():
                    return float(number) * _DURATION_UNITS[unit]
                break
    raise node.error(_DURATION_EXPECTED)


def duration(low: float = 0.0, high: float | None = None, *, allow_zero: bool = False) -> Converter:
    """A converter for durations in seconds, accepting unit suffixes ms, s, m and h."""

    def convert(node: Node) -> float:
        seconds = _parse_duration(node)
        if (
            seconds < low
            or (seconds == 0 and not allow_zero)
            or (high is not None and seconds > high)
        ):
            bound = f" up to {high:g} s" if high is not None else ""
            floor = (
                "zero or more"
                if allow_zero
                else f"more than {low:g} s"
                if low == 0
                else f"at least {low:g} s"
            )
            raise node.error(f"a duration of {floor}{bound} ({_DURATION_EXPECTED})")
        return seconds

    return convert


def percent(node: Node) -> float:
    """A percentage 0..100, as a number or a string like '80%'."""
    value = node.value
    if isinstance(value, str) and value.strip().endswith("%"):
        try:
            value = float(value.strip()[:-1])
        except ValueError:
            raise node.error("a percentage from 0 to 100 such as 80 or '80%'") from None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 100:
        raise node.error("a percentage from 0 to 100 such as 80 or '80%'")
    return float(value)


def choice(*allowed: str) -> Converter:
    """A converter accepting one of the given words."""
    expected = "one of " + ", ".join(allowed)

    def convert(node: Node) -> str:
        if node.value not in allowed:
            raise node.error(expected)
        return str(node.value)

    return convert


def argv(node: Node) -> tuple[str, ...]:
    """A command as a list of words, run without a shell.

    A single word may be given as a plain string. A string with spaces is refused instead of
    being split: kakit never involves a shell, and guessing the split would hide quoting errors.
    """
    value = node.value
    if isinstance(value, str):
        if value.strip() and " " not in value.strip():
            return (value.strip(),)
        raise node.error("a list of words run without a shell, such as [nginx, -s, reload]")
    if not isinstance(value, list) or not value:
        raise node.error("a non-empty list of words, such as [systemctl, restart, nginx]")
    words = []
    for item in value:
        if not isinstance(item.value, str | int | float) or isinstance(item.value, bool):
            raise item.error("a word (string)")
        words.append(str(item.value))
    if not words[0].strip():
        raise node.value[0].error("a program name")
    return tuple(words)


def optional_argv(node: Node) -> tuple[str, ...] | None:
    """A command (see :func:`argv`) or null."""
    return None if node.value is None else argv(node)


def status_codes(node: Node) -> tuple[tuple[int, int], ...]:
    """HTTP status codes as keepalived writes them: 200, '200-299', '200-299 400-499' or a list."""
    expected = "HTTP status codes such as 200, '200-299' or '200-299 301'"
    items = node.value if isinstance(node.value, list) else [node]
    ranges: list[tuple[int, int]] = []
    for item in items:
        value = item.value
        if isinstance(value, bool):
            raise item.error(expected)
        words = [str(value)] if isinstance(value, int) else str(value).split()
        if not words:
            raise item.error(expected)
        for word in words:
            low_text, _, high_text = word.partition("-")
            try:
                low = int(low_text)
                high = int(high_text) if high_text else low
            except ValueError:
                raise item.error(expected) from None
            if not 100 <= low <= high <= 599:
                raise item.error(expected)
            ranges.append((low, high))
    return tuple(ranges)


def ip_address(node: Node) -> str:
    """An IPv4 or IPv6 address (no host names: a check must not depend on DNS)."""
    import ipaddress

    if not isinstance(node.value, str):
        raise node.error("an IPv4 or IPv6 address")
    try:
        return str(ipaddress.ip_address(node.value.strip()))
    except ValueError:
        raise node.error("an IPv4 or IPv6 address") from None


def host(node: Node) -> str:
    """A host name or address."""
    value = node.value
    if not isinstance(value, str) or not value.strip() or any(ch.isspace() for ch in value.strip()):
        raise node.error("a host name or IP address")
    return value.strip()


def string_map(node: Node) -> dict[str, str]:
    """A mapping of strings to strings (HTTP headers, environment)."""
    result = {}
    for key, child in node.mapping("a mapping of names to strings").items():
        if not isinstance(child.value, str | int | float) or isinstance(child.value, bool):
            raise child.error("a string")
        result[key] = str(child.value)
    return result


def list_of(convert: Converter) -> Converter:
    """A converter for a list whose items all pass ``convert`` (every bad item is reported)."""

    def convert_list(node: Node) -> tuple[Any, ...]:
        if not isinstance(node.value, list):
            raise node.error("a list")
        errors: list[ConfigError] = []
        items = []
        for item in node.value:
            try:
                items.append(convert(item))
            except ConfigError as exc:
                errors.append(exc)
        raise_collected(errors)
        return tuple(items)

    return convert_list


# --- records -----------------------------------------------------------------------------------


def unknown_key_error(node: Node, key: str, known: list[str]) -> ConfigError:
    """A ConfigError for a key that is not allowed, with a suggestion for typos."""
    import difflib

    child = node.value[key]
    close = difflib.get_close_matches(key, known, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    allowed = ", ".join(sorted(known))
    error = ConfigError(f"{child.where}: {child.path}: unknown key ({hint}allowed here: {allowed})")
    error.line = child.line
    return error


def _misspelt(name: str, unknown: list[str]) -> bool:
    """Whether an unknown key already reported looks like ``name`` (``prot`` for ``port``).

    Its error suggests ``name``; a second error saying ``name`` is missing adds nothing.
    """
    if not unknown:
        return False
    import difflib

    return any(difflib.get_close_matches(key, [name], n=1) for key in unknown)


def build(cls: type[T], node: Node, *, skip: tuple[str, ...] = ()) -> T:
    """Build a :func:`kakit.core.record.frozen` settings object from a mapping node.

    Each field's converter validates its value; unknown keys, missing required keys and
    values of the wrong kind raise :class:`ConfigError`.

    Args:
        cls: The settings class.
        node: A mapping node.
        skip: Keys the caller handles itself (allowed, not passed to ``cls``).
    """
    specs = {name: spec for name, spec in fields(cls).items() if not spec.internal}
    mapping = node.mapping(f"a mapping of settings ({', '.join(specs)})")
    known = [*specs, *skip]
    # Every key is looked at, in file order, and every error kept: `kakit config check` lists
    # them all at once instead of one per edit.
    errors: list[ConfigError] = []
    values: dict[str, Any] = {}
    unknown: list[str] = []
    for key, child in mapping.items():
        spec = specs.get(key)
        if spec is None:
            if key not in known:
                errors.append(unknown_key_error(node, key, known))
                unknown.append(key)
            continue
        convert = spec.convert
        try:
            if convert is None:
                values[key] = plain(child)
            elif isinstance(convert, type) and is_record(convert):
                values[key] = build(convert, child)
            else:
                values[key] = convert(child)
        except ConfigError as exc:
            errors.append(exc)
    for name, spec in specs.items():
        if spec.required and name not in mapping and not _misspelt(name, unknown):
            errors.append(node.error(f"the key {name!r}", show_value=False))
    raise_collected(errors)
    try:
        return cls(**values)
    except ValueError as exc:
        # __post_init__ cross-field checks raise ValueError with a bare message.
        raise node.error(str(exc), show_value=False) from None


def record(cls: type[Any]) -> Converter:
    """A converter building the nested settings class ``cls`` (null gives its defaults)."""

    def convert(node: Node) -> Any:
        if node.value is None:
            return build(cls, Node({}, node.file, node.line, node.path))
        return build(cls, node)

    return convert


__all__ = ["MISSING", "Node"]
