"""Running an external program without a shell, bounded in time, leaving nothing behind.

Shared by the ``command`` check, the service restart, the ``run`` hook and the escalation. The
program gets its own session: keepalived kills *our* process group at its script timeout, and a
restarted daemon must not die with it; on our own timeout the program's whole group is killed.
stderr goes to an anonymous memory file rather than a pipe, because a daemon the program starts
inherits the descriptor, and reading a pipe would then wait for the daemon to exit.
"""

from __future__ import annotations

MAX_ERROR = 200
"""Characters of the program's first stderr line kept for logs and outcomes."""


def run_bounded(
    command: tuple[str, ...], timeout: float, env: dict[str, str] | None = None
) -> tuple[int | None, str]:
    """Run ``command`` in its own session, killing its process group after ``timeout`` s.

    Args:
        command: Program and arguments (no shell).
        timeout: Seconds to wait; 0 or less fails at once.
        env: The environment (default: inherited).

    Returns:
        ``(exit status, first stderr line)``; the status is None on timeout or when the program
        could not be started (the text then says why), negative when a signal ended it.
    """
    import os
    import signal
    import subprocess

    if timeout <= 0:
        return None, "no time left before the deadline"
    errors = os.memfd_create("kakit-stderr", os.MFD_CLOEXEC)
    try:
        try:
            proc = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=errors,
                env=env,
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
    first = text.splitlines()[0] if text else ""
    return status, first[:MAX_ERROR]
