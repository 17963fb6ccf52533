"""JSON for the hot path: the stdlib's own C scanner and encoder, without ``import json``.

``kacheck`` reads and writes its small state file on every run. ``import json`` costs about 7 ms
there (``json.decoder`` imports ``re``, which imports ``enum``, ``functools`` and
``collections``), a third of the run's own budget. The C module ``_json`` that ``json`` is built
on imports nothing: calling its scanner and encoder directly gives the same text as
``json.dumps(value, sort_keys=True)`` and the same values as ``json.loads``.

Where ``_json`` is missing (another Python implementation), the plain ``json`` module is used.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

_load: Callable[[str], Any]
_dump: Callable[[Any], str]

try:
    import _json
except ImportError:  # pragma: no cover - CPython always has it

    def _load(text: str) -> Any:
        import json

        return json.loads(text)

    def _dump(value: Any) -> str:
        import json

        return json.dumps(value, sort_keys=True)

else:
    _CONSTANTS = {"-Infinity": float("-inf"), "Infinity": float("inf"), "NaN": float("nan")}

    class _Context:
        """The decoder settings ``_json.make_scanner`` reads: those of ``json.loads``."""

        strict = True
        object_hook = None
        object_pairs_hook = None
        parse_float = float
        parse_int = int
        parse_constant = _CONSTANTS.__getitem__

    # typeshed types the context as a scanner; at run time it is any object with these fields.
    _scan = _json.make_scanner(_Context())  # type: ignore[arg-type]
    _WHITESPACE = " \t\n\r"

    def _unserializable(value: object) -> object:
        raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")

    # Arguments: markers (circular check), default, string encoder, indent, key and item
    # separators, sort_keys, skipkeys, allow_nan: json.dumps(value, sort_keys=True).
    _encode = _json.make_encoder(
        {},
        _unserializable,
        _json.encode_basestring_ascii,
        None,
        ": ",
        ", ",
        True,
        False,
        True,
    )

    def _load(text: str) -> Any:
        start = len(text) - len(text.lstrip(_WHITESPACE))
        try:
            value, end = _scan(text, start)
        except StopIteration as stop:
            raise ValueError(f"not JSON: expecting a value at character {stop.value}") from None
        if text[end:].strip(_WHITESPACE):
            raise ValueError(f"not JSON: extra data at character {end}")
        return value

    def _dump(value: Any) -> str:
        return "".join(_encode(value, 0))


def loads(text: str) -> Any:
    """Parse JSON text, like ``json.loads``.

    Raises:
        ValueError: The text is not one JSON value (``json.JSONDecodeError`` is a ValueError),
            or nested too deeply to parse.
    """
    try:
        return _load(text)
    except RecursionError:
        # Both scanners recurse per level: a damaged or planted state file of 100,000 `[`
        # must be "not JSON" to the callers, which all handle ValueError, not a traceback.
        raise ValueError("not JSON: nested too deeply") from None


def dumps(value: Any) -> str:
    """Serialize ``value`` exactly like ``json.dumps(value, sort_keys=True)``.

    Raises:
        TypeError: A value JSON cannot represent.
        ValueError: A circular reference.
    """
    return _dump(value)
