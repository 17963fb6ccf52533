"""The check family: the types ``kacheck`` can run, by their YAML ``type:`` name.

Built-in types are listed in :data:`REGISTRY` by module path and imported only when a check of
that type is configured. Third-party types register through the ``kakit.checks`` entry-point
group (``name = "package.module:Class"``). :mod:`kakit.checks.spec` turns the ``checks`` section
into validated specs.
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

registry: Registry[type[Check]] = Registry(REGISTRY, "kakit.checks", "check types")
load = registry.load
type_names = registry.names
