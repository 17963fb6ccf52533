"""The programs a configuration makes root run, and whether anyone else could replace them.

keepalived refuses to run a script as root when a non-root user could change it
(``enable_script_security``, docs/architecture.md); kakit applies the same rule to every
program its configuration names. ``kakit config check`` lists every problem; ``kacheck`` refuses
(exit 2) before running a check whose programs are unsafe, and ``kanotify`` before applying
hooks that would run one, so nothing is half done. The one place that starts programs,
:func:`kakit.core.programs.run_bounded`, refuses them again at the moment it would run them.
"""

from __future__ import annotations

import os

from kakit.exceptions import ConfigError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from kakit.checks.spec import CheckSpec
    from kakit.config.schema import Config

#: The options that name a program to run, on any check type (read by name: importing every
#: check module to test isinstance would cost kacheck start-up time).
PROGRAM_OPTIONS = ("argv", "restart_command", "config_test")


def programs(
    config: Config, *, check: CheckSpec | None = None, hooks: bool = True
) -> list[tuple[str, tuple[str, ...]]]:
    """``(where, argv)`` of the programs configured: of one check, or of every check, and of
    the states' ``run`` hooks when ``hooks``.

    ``where`` is ``file:line: key.path`` like a validation error's location (the line of the
    check; a state's hooks keep no line; a built-in preset gets the file's name alone).
    """
    specs = [check] if check is not None else [config.check(name) for name in config.checks]
    source = f"{config.source}: " if config.source else ""
    found = []
    for spec in specs:
        in_file = spec.origin and not spec.origin.startswith("<")
        origin = f"{spec.origin}: " if in_file else source
        for probe in spec.probes:
            for key in PROGRAM_OPTIONS:
                argv = getattr(probe.options, key, None)
                if argv:
                    found.append((f"{origin}checks.{spec.name}.{key}", tuple(argv)))
    if hooks:
        for state, state_hooks in config.states.items():
            run = state_hooks.get("run")
            if run is not None:
                found.extend((f"{source}states.{state}.run", tuple(argv)) for argv in run.run)
    return found


def unsafe_programs(
    config: Config, *, check: CheckSpec | None = None, hooks: bool = True
) -> list[tuple[str, str, str]]:
    """``(key path, program, why)`` for each configured program that is missing, or that
    someone other than root could replace, in file order."""
    from kakit.core.programs import SYSTEM_DIRS, find_program
    from kakit.core.trust import why_untrusted

    found = []
    for where, argv in programs(config, check=check, hooks=hooks):
        path = find_program(argv[0])
        if path is None:
            found.append((where, argv[0], f"not found in {':'.join(SYSTEM_DIRS)}"))
            continue
        if not os.path.exists(path):
            found.append((where, argv[0], "not found"))
            continue
        problem = why_untrusted(os.path.abspath(path))
        if problem is not None:
            found.append((where, argv[0], problem))
    return found


def refuse_unsafe_programs(
    config: Config, *, check: CheckSpec | None = None, hooks: bool = True
) -> None:
    """Refuse, as root, a configuration whose programs someone else could replace.

    A missing program is not refused here: it fails when it runs, as a check or hook failure.

    Raises:
        ConfigError: Running as root and a configured program is unsafe (exit 2).
    """
    if os.geteuid() != 0:
        return
    for where, program, problem in unsafe_programs(config, check=check, hooks=hooks):
        if not problem.startswith("not found"):
            raise ConfigError(f"{where}: refusing to run {program}: {problem}")
