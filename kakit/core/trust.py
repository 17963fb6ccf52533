"""Whether a program is safe for root to run: keepalived's ``enable_script_security`` rule.

keepalived refuses to run a script as root when anyone but root could replace it: it checks
every component of the path from ``/`` down, without following the last link
(``fstatat(AT_SYMLINK_NOFOLLOW)``), and then the path the links resolve to. A component is
unsafe when it is not owned by root, or when it is a regular file or a directory without the
sticky bit that is writable by others, or by a group other than root's. A symlink's own mode
means nothing (always 0777), but its owner does: whoever owns the link decides where it points.

kakit runs programs named in its configuration (a service's ``restart_command`` and
``config_test``, a ``command`` check, ``run`` hooks) as the root that keepalived runs it as, so
the same rule tells which of them a local user could swap for their own. The rule applies as
well to every file root *reads* and trusts (the configuration, secret files) and every
directory root *writes* in (state, data, logs): a user who can replace the configuration or
delete a latch controls the node as surely as one who replaces a program. Running as root,
kakit refuses all of these (:func:`require_safe`); ``kakit config check`` lists them.
"""

from __future__ import annotations

import os
import stat


def _components(path: str) -> list[str]:
    """``/``, ``/usr``, ``/usr/bin``, ``/usr/bin/x`` for ``/usr/bin/x``."""
    found = ["/"]
    current = ""
    for name in path.split("/"):
        if name:
            current = f"{current}/{name}"
            found.append(current)
    return found


def _owner(uid: int) -> str:
    import pwd

    try:
        return f"{pwd.getpwuid(uid).pw_name} (uid {uid})"
    except KeyError:
        return f"uid {uid}"


def _group(gid: int) -> str:
    import grp

    try:
        return f"{grp.getgrgid(gid).gr_name} (gid {gid})"
    except KeyError:
        return f"gid {gid}"


def _unsafe(component: str, info: os.stat_result) -> str | None:
    mode = stat.S_IMODE(info.st_mode)
    if info.st_uid != 0:
        kind = "symlink " if stat.S_ISLNK(info.st_mode) else ""
        return f"{kind}{component} is owned by {_owner(info.st_uid)}, not root"
    sticky_dir = stat.S_ISDIR(info.st_mode) and mode & stat.S_ISVTX
    if not (stat.S_ISREG(info.st_mode) or stat.S_ISDIR(info.st_mode)) or sticky_dir:
        return None
    if mode & stat.S_IWOTH:
        return f"{component} is writable by everyone (mode {mode:04o})"
    if mode & stat.S_IWGRP and info.st_gid != 0:
        return f"{component} is writable by group {_group(info.st_gid)} (mode {mode:04o})"
    return None


def why_unsafe(path: str) -> str | None:
    """Why a file or directory that root reads or writes could be changed by someone else.

    Every existing component of the path, and of the path its links resolve to, must pass the
    rule above; components that do not exist yet are fine (root will create them).

    Returns:
        One line naming the component at fault and its owner or mode; None when safe.
    """
    if not path.startswith("/"):
        return f"{path} is not an absolute path"
    real = os.path.realpath(path)
    for candidate in (path, real) if real != path else (path,):
        for component in _components(candidate):
            try:
                info = os.lstat(component)
            except FileNotFoundError:
                break
            except NotADirectoryError:
                parent = os.path.dirname(component)
                return f"{parent} is not a directory, so {path} can never be one"
            except OSError as exc:
                return f"{component}: {exc.strerror or exc}"
            problem = _unsafe(component, info)
            if problem is not None:
                return problem
    return None


def require_safe(path: str, what: str) -> None:
    """Refuse ``path`` when running as root and someone else could change it.

    Args:
        path: The file or directory.
        what: What it is, for the message (``configuration file``, ``state directory``).

    Raises:
        ConfigError: Running as root and :func:`why_unsafe` names a problem (exit 2).
    """
    if os.geteuid() != 0:
        return
    problem = why_unsafe(os.path.abspath(path))
    if problem is not None:
        from kakit.exceptions import ConfigError

        raise ConfigError(f"refusing {what} {path}: {problem}")


def why_untrusted(path: str) -> str | None:
    """Why root should not run ``path``; None when keepalived's script security would accept it.

    Args:
        path: An absolute program path.

    Returns:
        One line naming the component at fault and its owner or mode, or saying that the
        program is missing, not a regular file or not executable.
    """
    if not path.startswith("/"):
        return f"{path} is not an absolute path"
    if not os.path.lexists(path):
        return f"{path}: No such file or directory"
    problem = why_unsafe(path)
    if problem is not None:
        return problem
    real = os.path.realpath(path)
    try:
        info = os.stat(real)
    except OSError as exc:
        return f"{real}: {exc.strerror or exc}"
    if not stat.S_ISREG(info.st_mode):
        return f"{real} is not a regular file"
    if not info.st_mode & 0o111:
        return f"{real} is not executable (mode {stat.S_IMODE(info.st_mode):04o})"
    return None
