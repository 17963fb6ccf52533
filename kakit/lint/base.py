"""The contract of the lint rules: a :class:`Finding` record and the :class:`Rule` base.

A rule module holds one class, ``<Thing>Rule``, listed in :data:`kakit.lint.REGISTRY`; it owns
one or more rule ids (``codes``), each a stable name an operator can look up in docs/lint.md.
``check`` gets the :class:`Context` (the node, its peer when ``--peer`` was given, and
kakit.yaml when one was read) and yields findings. Rules are synchronous on purpose: they only
read what is already in memory, apart from a few ``stat`` calls on scripts.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from kakit.core.record import frozen

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any, ClassVar

    from kakit.keepalived.conf import Item
    from kakit.lint.model import Instance, Node

#: Severities, most severe first.
SEVERITIES = ("error", "warning", "info")


def rank(severity: str) -> int:
    """0 for ``error``, 1 for ``warning``, 2 for ``info`` (unknown words rank as info)."""
    return SEVERITIES.index(severity) if severity in SEVERITIES else len(SEVERITIES) - 1


@frozen
class Finding:
    """One thing lint says about a configuration.

    Attributes:
        file: The file the statement at fault is in.
        line: Its line (1-based; 0 when the whole file is meant).
        severity: ``error`` (keepalived refuses it or the pair does not work), ``warning``
            (works, but not as the file suggests), ``info`` (a reminder of what the file
            cannot show).
        rule: The rule id (docs/lint.md lists them).
        message: What is wrong, in one line.
        fix: What to change, in one line.
        detail: Further lines (the weight table).
    """

    file: str
    line: int
    severity: str
    rule: str
    message: str
    fix: str
    detail: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """The finding as JSON-ready data."""
        return {
            "file": self.file,
            "line": self.line,
            "severity": self.severity,
            "rule": self.rule,
            "message": self.message,
            "fix": self.fix,
            "detail": list(self.detail),
        }


@frozen
class Context:
    """What the rules read.

    Attributes:
        node: The configuration given on the command line.
        peer: The other node's (``--peer``), or None.
        config: kakit.yaml as loaded (:class:`kakit.config.schema.Config`), or None.
    """

    node: Node
    peer: Node | None = None
    config: Any = None


class Rule(ABC):
    """A rule group: the ids it reports under, and the check.

    Attributes:
        codes: ``rule id -> one-line summary`` of every id the class may report.
    """

    codes: ClassVar[dict[str, str]] = {}

    @abstractmethod
    def check(self, context: Context) -> Iterator[Finding]:
        """The findings of this group on ``context``."""

    @staticmethod
    def at(
        item: Item, severity: str, rule: str, message: str, fix: str, detail: tuple[str, ...] = ()
    ) -> Finding:
        """A finding located at ``item``."""
        return Finding(
            file=item.file,
            line=item.line,
            severity=severity,
            rule=rule,
            message=message,
            fix=fix,
            detail=detail,
        )


def pairs(context: Context) -> Iterator[tuple[Instance, Instance]]:
    """Each instance of the node with the peer's instance of the same name, else of the same
    ``virtual_router_id`` on the same interface name (none without ``--peer``)."""
    if context.peer is None:
        return
    by_name = {instance.name: instance for instance in context.peer.instances}
    used: set[str] = set()
    for instance in context.node.instances:
        other = by_name.get(instance.name)
        if other is None:
            other = next(
                (
                    candidate
                    for candidate in context.peer.instances
                    if candidate.name not in used
                    and candidate.name not in {i.name for i in context.node.instances}
                    and candidate.vrid == instance.vrid
                    and instance.vrid
                ),
                None,
            )
        if other is not None:
            used.add(other.name)
            yield instance, other
