"""``kakit lint``: what keepalived -t does not check in a keepalived.conf, and in a pair of them.

- :mod:`kakit.lint.base`: the contract (:class:`Finding`, :class:`Rule`, :class:`Context`).
- :mod:`kakit.lint.model`: one node's configuration as typed records.
- One module per rule group, listed in :data:`REGISTRY` and imported when the lint runs;
  third-party rules register through the ``kakit.lint`` entry-point group.
- :mod:`kakit.lint.report`: text and JSON output, and the exit status.
"""

from __future__ import annotations

from kakit.core.registry import Registry
from kakit.exceptions import ConfigError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from kakit.lint.base import Finding, Rule
    from kakit.lint.model import Node

# In report order: what keepalived reads, then one node's settings, then the pair.
REGISTRY: dict[str, str] = {
    "syntax": "SyntaxRule",
    "strict": "StrictRule",
    "lvs": "LvsRule",
    "addresses": "AddressRule",
    "auth": "AuthRule",
    "preempt": "PreemptRule",
    "vrid": "VridRule",
    "scripts": "ScriptRule",
    "timeout": "TimeoutRule",
    "pair": "PairRule",
    "weights": "WeightRule",
}


def _contract(cls: Any) -> str | None:
    from kakit.lint.base import Rule

    if not (isinstance(cls, type) and issubclass(cls, Rule)):
        return "is not a kakit.lint.base.Rule"
    return None


registry: Registry[type[Rule]] = Registry(__name__, REGISTRY, "lint rules", _contract)


def read(path: str) -> Node:
    """Read one keepalived.conf and every file it includes.

    Raises:
        ConfigError: The file itself cannot be read (missing, a directory, no permission).
    """
    import os
    import stat

    from kakit.keepalived.conf import load
    from kakit.lint.model import read_node

    try:
        # stat's own error, not os.path.exists: a file behind a directory this user may not
        # enter is "Permission denied", not "no such file".
        regular = stat.S_ISREG(os.stat(path).st_mode)
        if regular:
            with open(path, "rb"):
                pass
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if not regular:
        raise ConfigError(f"{path}: cannot read: not a regular file")
    # Not the trust rule of kakit's own reads: lint reports on files, it does not act on them.
    document = load(path, trusted=False)
    if not document.files:  # too large, or gone since: the reader said why
        problem = document.problems[0].message if document.problems else "cannot read"
        raise ConfigError(f"{path}: {problem}")
    return read_node(path, document)


def lint(node: Node, peer: Node | None = None, config: Any = None) -> list[Finding]:
    """Every rule's findings, most severe first, then by file and line.

    Args:
        node: The configuration to check.
        peer: The other node of the pair (``--peer``), for the pair rules.
        config: kakit.yaml (:class:`kakit.config.schema.Config`) for the kacheck rules.
    """
    from kakit.lint.base import Context, rank

    context = Context(node=node, peer=peer, config=config)
    findings: list[Finding] = []
    for name in registry.names():
        rule = registry.load(name)()
        findings.extend(rule.check(context))
    return sorted(findings, key=lambda f: (rank(f.severity), f.file, f.line, f.rule))


def codes() -> dict[str, str]:
    """Every rule id of every rule group, with its summary."""
    found: dict[str, str] = {}
    for name in registry.names():
        found.update(registry.load(name).codes)
    return found
