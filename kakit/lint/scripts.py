"""Programs keepalived runs: present, executable, and changeable by root alone."""

from __future__ import annotations

import os
import shutil

from kakit.lint.base import Finding, Rule

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import ClassVar

    from kakit.lint.base import Context
    from kakit.lint.model import Node, Program

#: Words that only a shell understands: keepalived execs a script's words directly.
SHELL_WORDS = frozenset({"[[", "]]", "&&", "||", ";", "|", ">", ">>", "<", "2>&1", "$(", "`"})

SHELL_FIX = "put the shell code in an executable file with a #! line and name that file"

#: Where a program named without a ``/`` is looked for (keepalived searches ``PATH``; under
#: systemd this is the service's default).
SEARCH_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def program_path(argv: tuple[str, ...]) -> str:
    """The program of a command line, found on :data:`SEARCH_PATH` when it has no ``/``."""
    name = argv[0].strip("'")
    if "/" in name:
        return name
    return shutil.which(name, path=SEARCH_PATH) or name


def _runs_as_root(node: Node, program: Program) -> bool:
    """Whether keepalived runs this program as root (no non-root ``user``/``script_user``)."""
    user = ""
    if program.what.startswith("vrrp_script "):
        user = node.scripts[program.what.split(" ", 1)[1]].user
    return (user or node.script_user or "root") == "root"


class ScriptRule(Rule):
    """Each program: missing, not executable, or writable by someone other than root."""

    codes: ClassVar[dict[str, str]] = {
        "script-missing": "a script or notify program that does not exist",
        "script-not-executable": "a script or notify program that cannot be executed",
        "script-unsafe": "a program run as root that a non-root user can change",
        "script-security": "scripts run as root without enable_script_security",
        "script-shell": "shell code as a script: keepalived runs no shell",
    }

    def check(self, context: Context) -> Iterator[Finding]:
        """Findings for every program the node's file names, then the global one."""
        from kakit.core.trust import why_unsafe

        node = context.node
        as_root = False
        for program in node.programs:
            path = program_path(program.argv)
            shell = sorted(SHELL_WORDS.intersection(program.argv))
            if program.argv[0].startswith(("<", ">")):
                yield self.at(
                    program.item,
                    "error",
                    "script-shell",
                    f"{program.what}: {program.argv[0]} is a shell redirection, and keepalived "
                    "runs no shell: the exec fails and the script fails every time (keepalived "
                    "2.2.7 logs 'exited with status 2')",
                    SHELL_FIX,
                )
                continue
            if not os.path.isabs(path):
                yield self.at(
                    program.item,
                    "error",
                    "script-missing",
                    f"{program.what}: {path} is not on PATH ({SEARCH_PATH})"
                    + (
                        f"; keepalived runs no shell, so {' '.join(shell)} mean nothing"
                        if shell
                        else ""
                    ),
                    SHELL_FIX if shell else "write the program's absolute path, and install it",
                )
                continue
            if not os.path.lexists(path):
                yield self.at(
                    program.item,
                    "error",
                    "script-missing",
                    f"{program.what}: {path} does not exist ("
                    + (
                        "keepalived disables the track script"
                        if program.what.startswith("vrrp_script")
                        else "keepalived's fork fails to run it, silently"
                    )
                    + ")",
                    f"install {path}, or correct the path",
                )
                continue
            if not os.path.isfile(path) or not os.stat(path).st_mode & 0o111:
                yield self.at(
                    program.item,
                    "error",
                    "script-not-executable",
                    f"{program.what}: {path} is not an executable file: keepalived disables a "
                    "track script like this when it starts (keepalived -t does not say), so "
                    "it never fails; a notify program never runs",
                    f"chmod 0755 {path} (and give it a #! line)",
                )
                continue
            if shell:
                yield self.at(
                    program.item,
                    "error",
                    "script-shell",
                    f"{program.what}: keepalived runs no shell: {path} gets "
                    f"{' '.join(program.argv[1:])!r} as its arguments, so "
                    f"{' '.join(shell)} do nothing (`true && false` succeeds)",
                    SHELL_FIX,
                )
            root = _runs_as_root(node, program)
            as_root = as_root or root
            unsafe = why_unsafe(os.path.abspath(path)) if root else None
            if unsafe is not None:
                consequence = (
                    "enable_script_security refuses to run it"
                    if node.script_security
                    else "whoever can change it runs code as root"
                )
                yield self.at(
                    program.item,
                    "error",
                    "script-unsafe",
                    f"{program.what}: runs as root but {unsafe}: {consequence}",
                    "make every directory of the path and the file owned by root and "
                    "writable by root only",
                )
        if as_root and not node.script_security:
            file, line = node.where()
            yield Finding(
                file=file,
                line=line,
                severity="warning",
                rule="script-security",
                message="scripts run as root and enable_script_security is not set: "
                "keepalived runs even a script any user could change",
                fix="add enable_script_security (and script_user root, or a dedicated user) "
                "to global_defs",
            )
