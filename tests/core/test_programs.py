"""`run_bounded`: what a program's stderr contributes to a log line."""

from __future__ import annotations

import sys

from kakit.core.programs import MAX_ERROR, run_bounded


def _stderr(text: str) -> tuple[str, ...]:
    """A command writing ``text`` to stderr and failing."""
    return (sys.executable, "-c", f"import sys; sys.stderr.write({text!r}); sys.exit(1)")


class TestRunBoundedOutput:
    """The text returned beside the exit status."""

    def test_first_line_by_default(self) -> None:
        """Without ``lines`` only the first non-empty line is kept."""
        status, text = run_bounded(_stderr("\nfirst\nsecond\n"), 30.0)
        assert (status, text) == (1, "first")

    def test_first_non_empty_lines_joined(self) -> None:
        """``lines=3`` keeps three non-empty lines, joined with `` | ``."""
        output = (
            "AH00526: Syntax error on line 1 of /x.conf:\n\n  Invalid command 'x'\nthird\nfourth\n"
        )
        status, text = run_bounded(_stderr(output), 30.0, lines=3)
        assert status == 1
        assert text == "AH00526: Syntax error on line 1 of /x.conf: | Invalid command 'x' | third"

    def test_lines_are_printable_and_bounded(self) -> None:
        """A terminal escape is shown escaped, and each line is cut to MAX_ERROR characters."""
        _status, text = run_bounded(_stderr("bad \x1b[31mred\n" + "y" * 1000 + "\n"), 30.0, lines=3)
        first, second = text.split(" | ")
        assert first == "bad \\x1b[31mred"
        assert second == "y" * MAX_ERROR
