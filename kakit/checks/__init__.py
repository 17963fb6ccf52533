"""The check family: the types ``kacheck`` can run, by their YAML ``type:`` name.

Built-in types are listed in :data:`REGISTRY` by module path and imported only when a check of
that type is configured: ``kacheck flag`` must not pay for icmplib or httpx. Third-party types
register through the ``kakit.checks`` entry-point group (``name = "package.module:Class"``).
"""

from __future__ import annotations

from kakit.exceptions import ConfigError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from kakit.checks.base import Check

REGISTRY: dict[str, str] = {
    "command": "kakit.checks.command:CommandCheck",
    "file": "kakit.checks.file:FileCheck",
    "flag": "kakit.checks.flag:FlagCheck",
    "gateway": "kakit.checks.gateway:GatewayCheck",
    "http": "kakit.checks.http:HttpCheck",
    "process": "kakit.checks.process:ProcessCheck",
    "service": "kakit.checks.service:ServiceCheck",
    "tcp": "kakit.checks.tcp:TcpCheck",
}

_loaded: dict[str, type[Check]] = {}


def _entry_points() -> dict[str, str]:
    from importlib.metadata import entry_points

    return {ep.name: ep.value for ep in entry_points(group="kakit.checks")}


def type_names() -> list[str]:
    """Every known check type name, built-in and plugin."""
    return sorted({*REGISTRY, *_entry_points()})


def load(type_name: str) -> type[Check]:
    """The class implementing ``type_name``.

    Raises:
        ConfigError: No built-in or plugin check has that name (the caller adds the location).
    """
    cached = _loaded.get(type_name)
    if cached is not None:
        return cached
    target = REGISTRY.get(type_name) or _entry_points().get(type_name)
    if target is None:
        raise ConfigError(f"one of the check types {', '.join(type_names())}")
    module_name, _, class_name = target.partition(":")
    # __import__ rather than importlib.import_module: importing importlib costs ~1 ms per run.
    module = __import__(module_name, fromlist=[class_name])
    cls: type[Check] = getattr(module, class_name)
    _loaded[type_name] = cls
    return cls
