"""The check family: the types ``kacheck`` can run, by their YAML ``type:`` name.

Built-in types are listed in :data:`REGISTRY` by module path and imported only when a check of
that type is configured. Third-party types register through the ``kakit.checks`` entry-point
group (``name = "package.module:Class"``).
"""

from __future__ import annotations

from kakit.core.registry import Registry

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

_registry = Registry(REGISTRY, "kakit.checks", "check types")


def type_names() -> list[str]:
    """Every known check type name, built-in and plugin."""
    return _registry.names()


def load(type_name: str) -> type[Check]:
    """The class implementing ``type_name``.

    Raises:
        ConfigError: No built-in or plugin check has that name (the caller adds the location).
    """
    cls: type[Check] = _registry.load(type_name)
    return cls
