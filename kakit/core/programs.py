"""Running an external program without a shell, bounded in time, leaving nothing behind.

Shared by the ``command`` check, the service restart, the ``run`` hook and the escalation. The
program gets its own session: keepalived kills *our* process group at its script timeout, and a
restarted daemon must not die with it; on our own timeout the program's whole group is killed.
stderr goes to an anonymous memory file rather than a pipe, because a daemon the program starts
inherits the descriptor, and reading a pipe would then wait for the daemon to exit.

Root runs these programs, so they are found and started the way keepalived's script security
would want: a bare name (``systemctl``, ``iptables-restore``) is looked up in the system's own
directories only, never in ``$PATH``; keepalived hands its scripts whatever environment it was
started with (measured with 2.2.7: everything, ``LD_PRELOAD`` included), and a ``PATH`` with a
user's directory first would make root run that user's ``iptables``. A program that someone
other than root could replace is refused (:func:`kakit.core.trust.why_untrusted`). The child
gets a clean environment (:func:`child_environment`): no variable of kakit's own environment
reaches it unless it is passed on explicitly, so an ``{env: ...}`` secret stays with kakit.
"""

from __future__ import annotations

import os

MAX_ERROR = 200
"""Characters of each stderr line kept for logs and outcomes."""

#: Where a program named without a directory is looked up, in the order of Debian's root PATH.
SYSTEM_DIRS = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")
#: Variables a child inherits from kakit: the locale and time zone, nothing that may hold a
#: secret or change how the program runs (LD_PRELOAD, PYTHONPATH...).
INHERITED = ("LANG", "LC_ALL", "LC_CTYPE", "LC_MESSAGES", "TZ")


def find_program(name: str) -> str | None:
    """The program ``name`` names: itself when it has a directory, else the first executable
    file of that name in :data:`SYSTEM_DIRS`; None when there is none."""
    if "/" in name:
        return name
    for directory in SYSTEM_DIRS:
        candidate = f"{directory}/{name}"
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def child_environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a program kakit runs: ``PATH`` of the system directories, the locale,
    and ``extra`` (the event for a ``run`` hook, variables the configuration passes on)."""
    env = {"PATH": ":".join(SYSTEM_DIRS)}
    env.update((key, os.environ[key]) for key in INHERITED if key in os.environ)
    env.update(extra or {})
    return env


def run_bounded(
    command: tuple[str, ...], timeout: float, env: dict[str, str] | None = None, lines: int = 1
) -> tuple[int | None, str]:
    """Run ``command`` in its own session, killing its process group after ``timeout`` s.

    Args:
        command: Program and arguments (no shell); a bare program name is looked up in
            :data:`SYSTEM_DIRS`.
        timeout: Seconds to wait; 0 or less fails at once.
        env: The environment (default: :func:`child_environment`).
        lines: How many non-empty stderr lines to keep: a config test's first line often only
            says where (``AH00526: Syntax error on line 1 of ...:``), the next one what.

    Returns:
        ``(exit status, stderr)``: its first ``lines`` non-empty lines, each made printable and
        cut to :data:`MAX_ERROR` characters, joined with `` | ``. The status is None on timeout
        or when the program could not be started or was refused (the text then says why),
        negative when a signal ended it.
    """
    import signal
    import subprocess

    if timeout <= 0:
        return None, "no time left before the deadline"
    program = find_program(command[0])
    if program is None:
        return None, f"cannot run {command[0]}: not found in {':'.join(SYSTEM_DIRS)}"
    if os.geteuid() == 0 and os.path.exists(program):  # a missing one fails as such below
        from kakit.core.trust import why_untrusted

        problem = why_untrusted(program)
        if problem is not None:
            return None, f"refusing to run {program}: {problem}"
    errors = os.memfd_create("kakit-stderr", os.MFD_CLOEXEC)
    try:
        try:
            proc = subprocess.Popen(
                (program, *command[1:]),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=errors,
                env=child_environment() if env is None else env,
                start_new_session=True,
                close_fds=True,
            )
        except OSError as exc:
            return None, f"cannot run {command[0]}: {exc.strerror or exc}"
        try:
            status = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except OSError:
                pass
            proc.wait()
            return None, f"timed out after {timeout:g} s (process group killed)"
        text = os.pread(errors, 4096, 0).decode(errors="replace").strip()
    finally:
        os.close(errors)
    from kakit.core.log import printable

    kept = [line.strip() for line in text.splitlines() if line.strip()][: max(1, lines)]
    return status, " | ".join(printable(line)[:MAX_ERROR] for line in kept)
