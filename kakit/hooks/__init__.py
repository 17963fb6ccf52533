"""The hook family: what entering a keepalived state does to this node.

- :mod:`kakit.hooks.base`: the contract (``StateHook``, ``StateChange``, ``HookOutcome``).
- :mod:`kakit.hooks.settings`: the ``states`` and ``hooks`` sections of kakit.yaml.
- :mod:`kakit.hooks.sysctl`, :mod:`kakit.hooks.firewall`, :mod:`kakit.hooks.run`: the hooks.
- :mod:`kakit.hooks.runner`: ``hooks_for_state``, ``apply_hooks``, ``HookPlan``, ``build_plan``.

This package module imports nothing: ``kanotify`` imports only the hooks a state uses.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from kakit.config import Config
    from kakit.hooks.runner import HookPlan


def build_plan(config: Config) -> HookPlan | None:
    """The hooks of every configured state, or None without a ``states`` section.

    See :func:`kakit.hooks.runner.build_plan`.

    Raises:
        ConfigError: Invalid hook settings.
    """
    from kakit.hooks.runner import build_plan as build

    return build(config)
