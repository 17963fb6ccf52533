"""Turn a state's settings into hooks, and run them so that one failure never stops the rest."""

from __future__ import annotations

from kakit.exceptions import HookError
from kakit.hooks.base import HookOutcome, StateChange

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from typing import Any

    from kakit.config.schema import Config
    from kakit.hooks.base import StateHook
    from kakit.hooks.spec import HookSettings


def hooks_for_state(state_hooks: Mapping[str, Any], settings: HookSettings) -> list[StateHook]:
    """The hooks of one state, in the order of ``state_hooks`` (run order: sysctl, firewall, run).

    Args:
        state_hooks: Options by hook name, as :func:`kakit.hooks.spec.states_section` gives
            them. The firewall is there (maybe empty) for every state once any state has one,
            so leaving a state with rules always removes them.
        settings: The ``hooks`` section, given to every hook.

    Building the hooks runs nothing, so ``config check`` builds every state's hooks to validate
    what only a back end can judge.

    Raises:
        ConfigError: The settings do not fit together (an IPv6 rule with the iptables back end).
    """
    from kakit.hooks import registry

    return [registry.load(name)(options, settings) for name, options in state_hooks.items()]


def hook_name(hook: StateHook) -> str:
    """The name a hook reports under: its ``name`` attribute, else its function name."""
    name = getattr(hook, "name", None) or getattr(hook, "__name__", None)
    return name if isinstance(name, str) else type(hook).__name__


def apply_hooks(change: StateChange, hooks: Iterable[StateHook]) -> list[HookOutcome]:
    """Run every hook in order; a failing hook is recorded and the next one still runs.

    Returns:
        One outcome per hook; a failure is ``ok=False`` with the error message as summary.
    """
    outcomes = []
    for hook in hooks:
        try:
            outcomes.append(hook(change))
        except HookError as exc:
            outcomes.append(HookOutcome(hook=hook_name(hook), summary=str(exc), ok=False))
    return outcomes


class HookPlan:
    """The hooks of every configured state, built (and so validated) once per run.

    Args:
        states: Hook options by state, then by hook name, as :attr:`Config.states` holds them.
        settings: The ``hooks`` section.

    Raises:
        ConfigError: A state's settings do not fit the back end (see :func:`hooks_for_state`).
    """

    def __init__(self, states: Mapping[str, Mapping[str, Any]], settings: HookSettings) -> None:
        self.states = states
        self.settings = settings
        self.hooks = {name: hooks_for_state(hooks, settings) for name, hooks in states.items()}

    def hooks_for(self, state: str) -> list[StateHook]:
        """The hooks entering ``state`` runs (none for a state without settings)."""
        return self.hooks.get(state, [])

    def apply(self, change: StateChange) -> list[HookOutcome]:
        """Apply the hooks of ``change.event.state`` (see :func:`apply_hooks`)."""
        return apply_hooks(change, self.hooks_for(change.event.state))

    def drift(self, state: str) -> list[str]:
        """How the node differs from what ``state``'s hooks set: one line per drifted hook.

        Only hooks that can tell (a ``drift(state)`` method: sysctl, firewall) are asked; a
        ``run`` hook's programs leave nothing to compare. A hook that cannot look is reported as
        drifted, so that it is applied again rather than trusted.
        """
        found = []
        for hook in self.hooks_for(state):
            check = getattr(hook, "drift", None)
            if check is None:
                continue
            try:
                problem = check(state)
            except HookError as exc:
                problem = f"cannot check: {exc}"
            if problem:
                found.append(f"{hook_name(hook)}: {problem}")
        return found


def build_plan(config: Config) -> HookPlan | None:
    """The hook plan of a loaded configuration, or None when it has no ``states`` section.

    Building the plan constructs every state's hooks without running them, so it also validates
    what only the back end can judge (an IPv6 rule with iptables).

    Raises:
        ConfigError: Invalid hook settings.
    """
    if not config.states:
        return None
    return HookPlan(config.states, config.hook_settings())
