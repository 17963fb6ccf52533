"""`make install` / `make uninstall`: links keepalived can run under enable_script_security."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from tests.deploy.conftest import (
    ROOT,
    Install,
    components,
    make,
    make_install,
    root_owned_prefix,
    unsafe,
)

TOOLS = {"kacheck", "kanotify", "kakit", "kaprobe"}


def tree(root: Path) -> dict[str, str]:
    """Every path under ``root`` with its type and link target: a snapshot to compare."""
    found = {}
    for path in sorted(root.rglob("*")):
        kind = "link -> " + os.readlink(path) if path.is_symlink() else path.is_dir() and "dir"
        found[str(path.relative_to(root))] = kind or "file"
    return found


class TestInstall:
    def test_links_to_the_console_scripts_of_a_system_python_venv(self, installed: Install):
        """Each tool is a link in BINDIR to the venv's script, and the venv's python is Debian's."""
        links = {p.name: os.readlink(p) for p in installed.bindir.iterdir()}
        assert links == {name: str(installed.libdir / "bin" / name) for name in TOOLS}
        config = (installed.libdir / "pyvenv.cfg").read_text()
        assert "home = /usr/bin\n" in config

    def test_wrappers_are_written_by_a_pip_that_skips_import_re(self, installed: Install):
        """pip >= 25 wrote the scripts: no `import re` before kacheck's own code (~6 ms a run)."""
        wrapper = (installed.libdir / "bin" / "kacheck").read_text()
        assert "from kakit.kacheck.cli import main" in wrapper
        assert "import re" not in wrapper

    def test_every_path_component_is_root_owned_and_writable_by_root_alone(
        self, installed: Install
    ):
        """The links, what they resolve to, and every file of the venv pass keepalived's rule."""
        paths = [installed.bindir / name for name in TOOLS]
        paths += [Path(os.path.realpath(p)) for p in paths]
        checked = {c for p in paths for c in components(p)}
        checked |= set(installed.libdir.rglob("*"))
        assert [why for p in sorted(checked) if (why := unsafe(p))] == []

    def test_kacheck_runs_as_a_non_root_script_user(self, installed: Install):
        """`kacheck flag` from the installed link works as nobody: fails on a present flag."""
        state = Path(installed.prefix) / "nobody-state"
        state.mkdir()
        shutil.chown(state, "nobody")
        config = installed.prefix / "kakit.yaml"
        config.write_text(
            f"version: 1\npaths: {{state_dir: {state}/run, data_dir: {state}/lib}}\n"
            "log: {syslog: false}\n"
        )
        config.chmod(0o644)

        def kacheck_flag(path: Path) -> int:
            argv = [installed.bin("kacheck"), "-c", str(config), "flag", str(path)]
            env = {"PATH": "/usr/bin:/bin", "KAKIT_CONFIG_CACHE": "off"}
            # As keepalived does for a script_user: setgid, setgroups, setuid, then execve.
            as_nobody = ["/usr/bin/setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
            done = subprocess.run([*as_nobody, *argv], env=env, timeout=30)
            return done.returncode

        assert kacheck_flag(config) == 1
        assert kacheck_flag(installed.prefix / "no-such-flag") == 0


class TestSystemdUnits:
    def test_contrib_units_run_programs_the_install_provides(self, installed: Install):
        """Each contrib unit's ExecStart names an installed program, and its module imports."""
        for unit in sorted((ROOT / "contrib" / "systemd").glob("*.service")):
            line = next(x for x in unit.read_text().splitlines() if x.startswith("ExecStart="))
            argv = line.removeprefix("ExecStart=").replace("/usr/local/", f"{installed.prefix}/")
            program, *args = argv.split()
            assert os.access(program, os.X_OK), f"{unit.name}: {program}"
            if args[:1] == ["-m"]:
                done = subprocess.run([program, "-c", f"import {args[1]}"], capture_output=True)
                assert done.returncode == 0, f"{unit.name}: {done.stderr.decode()}"

    def test_track_file_units_create_the_directory_before_starting(self):
        """A unit feeding a --track-file makes its directory first: keepalived drops one without."""
        feeding = 0
        for unit in sorted((ROOT / "contrib" / "systemd").glob("*.service")):
            lines = unit.read_text().splitlines()
            start = next(x for x in lines if x.startswith("ExecStart="))
            if "--track-file" not in start.split():
                continue
            feeding += 1
            argv = start.split()
            directory = os.path.dirname(argv[argv.index("--track-file") + 1])
            assert f"ExecStartPre=/bin/mkdir -p {directory}" in lines, unit.name
            assert "Before=keepalived.service" in lines, unit.name
        assert feeding >= 2  # the watcher's unit and kaprobe's


class TestUninstall:
    def test_removes_exactly_what_install_made(self, wheelhouse: Path):
        """Install twice, uninstall: the prefix is as before, another program's link is kept."""
        prefix = root_owned_prefix()
        try:
            (prefix / "bin" / "other").symlink_to("/usr/bin/true")
            before = tree(prefix)
            make_install(prefix, wheelhouse)
            make_install(prefix, wheelhouse)  # a reinstall updates in place
            done = make("uninstall", f"PREFIX={prefix}")
            assert done.returncode == 0, done.stdout + done.stderr
            assert tree(prefix) == before
        finally:
            shutil.rmtree(prefix)
