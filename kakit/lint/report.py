"""Printing findings (text or JSON) and the exit status they give."""

from __future__ import annotations

from kakit.lint.base import rank

TYPE_CHECKING = False
if TYPE_CHECKING:
    from kakit.lint.base import Finding

#: Exit statuses: clean, findings at or above ``--fail-on``, unreadable input.
EXIT_CLEAN, EXIT_FINDINGS, EXIT_UNREADABLE = 0, 1, 2


def text(findings: list[Finding]) -> str:
    """``file:line: severity rule: message``, then the fix and any detail, indented."""
    lines = []
    for finding in findings:
        lines.append(
            f"{finding.file}:{finding.line}: {finding.severity} {finding.rule}: {finding.message}"
        )
        lines.append(f"    fix: {finding.fix}")
        lines.extend(f"    {line}" for line in finding.detail)
    counts = {s: sum(f.severity == s for f in findings) for s in ("error", "warning", "info")}
    words = {"error": "error(s)", "warning": "warning(s)", "info": "info"}
    lines.append(", ".join(f"{n} {words[s]}" for s, n in counts.items()))
    return "\n".join(lines)


def as_json(findings: list[Finding]) -> str:
    """The findings as a JSON list of objects (the text's fields, ``detail`` a list)."""
    import json

    return json.dumps([f.as_dict() for f in findings], indent=2, ensure_ascii=False)


def exit_status(findings: list[Finding], fail_on: str) -> int:
    """1 when any finding is at least as severe as ``fail_on``, else 0."""
    limit = rank(fail_on)
    return EXIT_FINDINGS if any(rank(f.severity) <= limit for f in findings) else EXIT_CLEAN
