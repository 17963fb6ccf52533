"""What the reader met (unbalanced braces, unterminated quotes, look-alike blanks, includes that
match nothing), and a file that is no keepalived.conf at all."""

from __future__ import annotations

from kakit.lint.base import Finding, Rule

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import ClassVar

    from kakit.lint.base import Context


class SyntaxRule(Rule):
    """The reader's problems, as findings (keepalived reads such a file differently)."""

    codes: ClassVar[dict[str, str]] = {
        "syntax": "the file does not read as keepalived's grammar (braces, quotes, include)",
        "not-keepalived": "a file with no block keepalived knows (a kakit.yaml given by mistake?)",
    }

    def check(self, context: Context) -> Iterator[Finding]:
        """One finding per problem the reader recorded (``kakit lint PEER`` reports the peer's)."""
        from kakit.keepalived.conf import KEEPALIVED_BLOCKS

        document = context.node.document
        if not any(i.keyword in KEEPALIVED_BLOCKS for i in document.items):
            yield Finding(
                file=context.node.path,
                line=1,
                severity="warning",
                rule="not-keepalived",
                message="no global_defs, vrrp_instance, vrrp_script or virtual_server block: "
                "this does not read as a keepalived.conf",
                fix="give lint keepalived's main configuration file "
                "(/etc/keepalived/keepalived.conf)",
            )
        for problem in context.node.document.problems:
            yield Finding(
                file=problem.file,
                line=problem.line,
                severity=problem.level,
                rule="syntax",
                message=problem.message,
                fix="correct the file: keepalived -t shows how keepalived reads it",
            )
