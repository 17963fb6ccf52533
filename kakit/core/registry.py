"""Explicit, lazily imported plugin registries (one per family).

A family lists its built-in members by name and ``module:Class`` path; third-party members
register through an entry-point group. A member's module is imported only when a configuration
uses it: ``kacheck flag`` must not pay for icmplib, and ``kanotify`` not for httpx.
"""

from __future__ import annotations

from kakit.exceptions import ConfigError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class Registry:
    """Members of one family by name.

    Args:
        builtins: ``name -> "package.module:Class"`` of the built-in members.
        group: The entry-point group for plugins (``kakit.checks``).
        kind: What a member is, for messages (``check types``).
    """

    def __init__(self, builtins: dict[str, str], group: str, kind: str) -> None:
        self.builtins = builtins
        self.group = group
        self.kind = kind
        self._loaded: dict[str, Any] = {}

    def _plugins(self) -> dict[str, str]:
        from importlib.metadata import entry_points

        return {ep.name: ep.value for ep in entry_points(group=self.group)}

    def names(self) -> list[str]:
        """Every known member name, built-in and plugin."""
        return sorted({*self.builtins, *self._plugins()})

    def load(self, name: str) -> Any:
        """The class registered as ``name`` (imported on first use, then cached).

        Raises:
            ConfigError: Unknown name; the message lists the known ones (the caller adds the
                location in the configuration).
        """
        cached = self._loaded.get(name)
        if cached is not None:
            return cached
        target = self.builtins.get(name) or self._plugins().get(name)
        if target is None:
            raise ConfigError(f"one of the {self.kind} {', '.join(self.names())}")
        module_name, _, class_name = target.partition(":")
        # __import__ rather than importlib.import_module: importing importlib costs ~1 ms per run.
        module = __import__(module_name, fromlist=[class_name])
        cls = getattr(module, class_name)
        self._loaded[name] = cls
        return cls
