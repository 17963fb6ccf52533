"""Explicit, lazily imported plugin registries (one per family).

A family lists its built-in members by name and class; each lives in the family's module of the
same name (``command``: ``CommandCheck`` in ``kakit.checks.command``). Third-party members
register through the entry-point group named after the family's package, by
``package.module:Class`` path. A member's module is imported only when a configuration
uses it: ``kacheck flag`` must not pay for icmplib, and ``kanotify`` not for httpx.

A member class names its options record in its base (``class TcpCheck(Check[TcpOptions])``, see
:class:`kakit.core.record.Member`), which sets ``options_class``: a
:func:`kakit.core.record.frozen` record whose fields carry converters; :meth:`Registry.build` is the one place that turns a configuration node into
``(type name, validated options)`` for every family.
"""

from __future__ import annotations

from kakit.core.converters import Node, build
from kakit.exceptions import ConfigError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, Generic, TypeVar

    M = TypeVar("M")
else:
    # ``import typing`` is a cost kacheck does not otherwise pay; mypy sees the real Generic.
    class Generic:
        def __class_getitem__(cls, _item: object) -> type:
            return cls

    M = None


class Registry(Generic[M]):
    """Members of one family by name (``M``: what a member is, e.g. ``type[Check]``).

    Args:
        package: The family's package (``kakit.checks``), which holds each built-in member in
            the module named after it; also the entry-point group of plugins.
        builtins: ``name -> "Class"`` of the built-in members (the family's ``REGISTRY``); a
            value ``"package.module:Class"`` names a class anywhere (what tests and
            :mod:`kakit.testing` add).
        kind: What a member is, for messages (``check types``).
        contract: Checks a loaded class against the family's contract and returns what is
            wrong with it, or None. A plugin that breaks the contract is then refused when the
            configuration is loaded, not when it first runs.
    """

    def __init__(
        self,
        package: str,
        builtins: dict[str, str],
        kind: str,
        contract: Callable[[Any], str | None] | None = None,
    ) -> None:
        self.package = package
        self.builtins = builtins
        self.kind = kind
        self.contract = contract
        self._loaded: dict[str, M] = {}

    def _plugins(self) -> dict[str, str]:
        from importlib.metadata import entry_points

        return {ep.name: ep.value for ep in entry_points(group=self.package)}

    def names(self) -> list[str]:
        """Every known member name, built-in and plugin."""
        return sorted({*self.builtins, *self._plugins()})

    def load(self, name: str) -> M:
        """The class registered as ``name`` (imported on first use, then cached).

        Raises:
            ConfigError: Unknown name; the message lists the known ones (the caller adds the
                location in the configuration).
        """
        cached = self._loaded.get(name)
        if cached is not None:
            return cached
        target = self.builtins.get(name)
        if target is not None and ":" not in target:
            target = f"{self.package}.{name}:{target}"
        target = target or self._plugins().get(name)
        if target is None:
            raise ConfigError(f"one of the {self.kind} {', '.join(self.names())}")
        module_name, _, class_name = target.partition(":")
        # __import__ rather than importlib.import_module: importing importlib costs ~1 ms per run.
        module = __import__(module_name, fromlist=[class_name])
        cls: M = getattr(module, class_name)
        problem = self.contract(cls) if self.contract is not None else None
        if problem is not None:
            raise ConfigError(f"{self.kind[:-1]} {name!r} ({target}) {problem}")
        self._loaded[name] = cls
        return cls

    def lookup(self, type_node: Node) -> M:
        """The class that ``type_node`` names, or a ConfigError located at that node.

        Raises:
            ConfigError: The value is not the name of a known member.
        """
        name = type_node.value
        # Built-in names first: reading entry points imports importlib.metadata (35 ms), which
        # only a configuration naming a plugin should pay.
        if isinstance(name, str) and (name in self.builtins or name in self._plugins()):
            try:
                return self.load(name)
            except ConfigError as exc:
                raise type_node.error(str(exc), show_value=False) from None
        raise type_node.error(f"one of the {self.kind} {', '.join(self.names())}")

    def build(
        self, node: Node, *, type_node: Node | None = None, skip: tuple[str, ...] = ()
    ) -> tuple[str, Any]:
        """The member ``node`` configures and its validated options.

        Args:
            node: The member's settings, a mapping. Its ``type`` key names the member unless
                ``type_node`` does.
            type_node: The node naming the member when it is not the ``type`` key (a hook is
                named by its key in a state).
            skip: Keys of ``node`` that the caller handles itself.

        Returns:
            ``(type name, options)``, the options an instance of the member's ``options_class``.

        Raises:
            ConfigError: A missing or unknown type, or invalid options, located in the file.
        """
        if type_node is None:
            mapping = node.mapping("a mapping with a 'type'")
            type_node = mapping.get("type")
            if type_node is None:
                raise node.error(
                    f"the key 'type' (one of {', '.join(self.names())})", show_value=False
                )
            skip = ("type", *skip)
        cls: Any = self.lookup(type_node)
        return str(type_node.value), build(cls.options_class, node, skip=skip)
