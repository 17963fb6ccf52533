"""The hook family: what entering a keepalived state does to this node.

- :mod:`kakit.hooks.base`: the contract (``StateHook``, ``StateChange``, ``HookOutcome``).
- :mod:`kakit.hooks.spec`: the ``states`` and ``hooks`` sections of kakit.yaml.
- :mod:`kakit.hooks.sysctl`, :mod:`kakit.hooks.firewall`, :mod:`kakit.hooks.run`: the hooks,
  each with its options record.
- :mod:`kakit.hooks.runner`: ``hooks_for_state``, ``apply_hooks``, ``HookPlan``, ``build_plan``.

A state's keys name hooks in :data:`REGISTRY`, imported only when a state uses them. Third-party
hooks register through the ``kakit.hooks`` entry-point group and run after the built-ins.
"""

from __future__ import annotations

from kakit.core.registry import Registry

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from kakit.config.schema import Config
    from kakit.hooks.runner import HookPlan

# In run order: kernel settings first, then the firewall, then the user's programs.
REGISTRY: dict[str, str] = {
    "sysctl": "SysctlHook",
    "firewall": "FirewallHook",
    "run": "RunHook",
}

# Hooks are plain classes (typed callables), with no common base to name here.
registry: Registry[Any] = Registry(__name__, REGISTRY, "hook types")


def build_plan(config: Config) -> HookPlan | None:
    """The hooks of every configured state, or None without a ``states`` section.

    See :func:`kakit.hooks.runner.build_plan`.

    Raises:
        ConfigError: Invalid hook settings.
    """
    from kakit.hooks.runner import build_plan as build

    return build(config)
