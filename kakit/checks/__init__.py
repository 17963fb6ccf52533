"""The check family: the types ``kacheck`` can run, by their YAML ``type:`` name.

Built-in types are listed in :data:`REGISTRY` by class name, each in the module named after its
type, and imported only when a check of that type is configured. Third-party types register
through the ``kakit.checks`` entry-point group (``name = "package.module:Class"``).
:mod:`kakit.checks.spec` turns the ``checks`` section into validated specs.
"""

from __future__ import annotations

from kakit.core.registry import Registry

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from kakit.checks.base import Check

REGISTRY: dict[str, str] = {
    "command": "CommandCheck",
    "file": "FileCheck",
    "flag": "FlagCheck",
    "gateway": "GatewayCheck",
    "http": "HttpCheck",
    "process": "ProcessCheck",
    "realserver": "RealserverCheck",
    "service": "ServiceCheck",
    # Not a module name: the type's module is kakit/checks/splitbrain.py.
    "split-brain": "kakit.checks.splitbrain:SplitBrainCheck",
    "tcp": "TcpCheck",
}

registry: Registry[type[Check[Any]]] = Registry(__name__, REGISTRY, "check types")
load = registry.load
