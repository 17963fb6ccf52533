"""The ``checks`` section as validated specs: what ``kacheck NAME`` runs.

A check is one probe (``type:`` and its options beside the common keys) or a list of ``probes``
that must all pass. A check named like a built-in preset (:mod:`kakit.checks.presets`) is laid
over it key by key, unless it sets ``probes`` or another ``type``; a preset the file does not
mention is built on demand by :func:`check_spec`. Specs hold validated options only: the check
objects themselves are built once, by the runner, when the check runs.
"""

from __future__ import annotations

from kakit.checks import registry
from kakit.core.converters import (
    Node,
    boolean,
    build,
    choice,
    duration,
    from_python,
    integer,
    optional,
    unknown_key_error,
)
from kakit.core.record import frozen, option
from kakit.exceptions import ConfigError, raise_collected

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

ON_FAILURE_CHOICES = ("fail", "stop-keepalived")
COMMON_CHECK_KEYS = ("latch", "on_failure", "deadline", "rise", "fall")


@frozen
class ProbeSpec:
    """One probe of a check: its type name and validated options."""

    type: str
    options: Any


@frozen
class CheckSpec:
    """A named check as ``kacheck NAME`` runs it.

    Attributes:
        name: The name on the command line.
        probes: Probes run in order; all must pass.
        latch: Once failed, keep failing until ``kakit latch clear NAME``.
        on_failure: ``fail`` (exit 1, keepalived applies weight/FAULT) or ``stop-keepalived``.
        deadline: Upper bound for one run in seconds (None: each probe's own timeouts).
        rise: Watch mode: consecutive passes before the track file says healthy again.
        fall: Watch mode: consecutive failures before the track file says failed.
        origin: Where the check was defined (``file:line`` or ``<built-in preset NAME>``).
    """

    name: str
    probes: tuple[ProbeSpec, ...]
    latch: bool = False
    on_failure: str = "fail"
    deadline: float | None = None
    rise: int = 1
    fall: int = 1
    origin: str = ""


@frozen
class _CommonSettings:
    latch: bool = option(boolean, default=False)
    on_failure: str = option(choice(*ON_FAILURE_CHOICES), default="fail")
    deadline: float | None = option(optional(duration(high=3600.0)), default=None)
    rise: int = option(integer(1, 1000), default=1)
    fall: int = option(integer(1, 1000), default=1)


def checks_section(node: Node) -> dict[str, CheckSpec]:
    """The ``checks`` section: every check validated now, so ``config check`` sees every error.

    Raises:
        ConfigError: Invalid checks, located in the file (a ConfigErrors for several).
    """
    if node.value is None:
        return {}
    from kakit.checks.presets import presets

    known = presets()
    errors: list[ConfigError] = []
    specs = {}
    for name, child in node.mapping("a mapping of check names to check settings").items():
        try:
            specs[name] = _spec(name, child, known.get(name))
        except ConfigError as exc:
            errors.append(exc)
    raise_collected(errors)
    return specs


def check_spec(name: str) -> CheckSpec | None:
    """The built-in preset ``name`` as a spec, or None when there is no such preset."""
    from kakit.checks.presets import presets

    preset = presets().get(name)
    return None if preset is None else _spec(name, None, preset)


def _spec(name: str, node: Node | None, preset: dict[str, Any] | None) -> CheckSpec:
    if preset is not None:
        base = from_python(preset, f"<built-in preset {name}>", f"checks.{name}")
        node = base if node is None else overlay(base, node)
    assert node is not None
    return build_check(name, node)


def overlay(base: Node, override: Node) -> Node:
    """Lay a YAML check over its preset, key by key, when it keeps the preset's type."""
    mapping = override.mapping("a mapping of check settings")
    own_type = mapping.get("type")
    preset_type = base.value["type"].value
    if "probes" in mapping or (own_type is not None and own_type.value != preset_type):
        return override
    merged = dict(base.value)
    merged.update(mapping)
    return Node(merged, override.file, override.line, override.path)


def build_check(name: str, node: Node) -> CheckSpec:
    """Validate one check's settings into a :class:`CheckSpec`.

    Raises:
        ConfigError: Invalid settings, located in the file.
    """
    mapping = node.mapping("a mapping of check settings with a 'type' or 'probes'")
    common = {key: mapping[key] for key in COMMON_CHECK_KEYS if key in mapping}
    errors: list[ConfigError] = []
    built = []
    items: list[tuple[Node, tuple[str, ...]]]
    if "probes" in mapping:
        for key in mapping:
            if key not in (*COMMON_CHECK_KEYS, "probes"):
                errors.append(unknown_key_error(node, key, [*COMMON_CHECK_KEYS, "probes"]))
        probes_node = mapping["probes"]
        if not isinstance(probes_node.value, list) or not probes_node.value:
            errors.append(probes_node.error("a non-empty list of probes, each with a 'type'"))
            items = []
        else:
            items = [(item, ()) for item in probes_node.value]
    else:
        items = [(node, COMMON_CHECK_KEYS)]
    for item, skip in items:
        try:
            built.append(registry.build(item, skip=skip))
        except ConfigError as exc:
            errors.append(exc)
    try:
        settings = build(_CommonSettings, Node(common, node.file, node.line, node.path))
    except ConfigError as exc:
        errors.append(exc)
    raise_collected(errors)
    return CheckSpec(
        name=name,
        probes=tuple(ProbeSpec(type=type_name, options=options) for type_name, options in built),
        latch=settings.latch,
        on_failure=settings.on_failure,
        deadline=settings.deadline,
        rise=settings.rise,
        fall=settings.fall,
        origin=node.where,
    )
