"""Specification of the program-path check: keepalived's enable_script_security rule."""

from __future__ import annotations

import grp
import os
import pwd
from pathlib import Path

import pytest

from kakit.core.trust import why_untrusted

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="chown needs root")

NOBODY = 65534
OWNER = f"{pwd.getpwuid(NOBODY).pw_name} (uid {NOBODY})"
GROUP = f"{grp.getgrgid(NOBODY).gr_name} (gid {NOBODY})"


@pytest.fixture(name="program")
def _program(tmp_path: Path) -> Path:
    """A root-owned 0755 program in a root-owned 0755 directory under the test's directory."""
    directory = tmp_path / "bin"
    directory.mkdir(mode=0o755)
    directory.chmod(0o755)
    program = directory / "restart-web"
    program.write_text("#!/bin/sh\nexit 0\n")
    program.chmod(0o755)
    return program


class TestWhyUntrusted:
    """Every component from / down must be root's and writable only by root."""

    def test_root_owned_chain_is_trusted(self, program: Path) -> None:
        """A root-owned program in root-owned, non-writable directories passes."""
        assert why_untrusted(str(program)) is None

    def test_directory_owned_by_another_user(self, program: Path) -> None:
        """A directory owned by someone else is named with its owner."""
        os.chown(program.parent, NOBODY, NOBODY)
        assert why_untrusted(str(program)) == (f"{program.parent} is owned by {OWNER}, not root")

    def test_program_owned_by_another_user(self, program: Path) -> None:
        """The program itself must be root's too."""
        os.chown(program, NOBODY, 0)
        assert why_untrusted(str(program)) == (f"{program} is owned by {OWNER}, not root")

    def test_world_writable_directory(self, program: Path) -> None:
        """A directory anyone can write to is named with its mode."""
        program.parent.chmod(0o777)
        assert (
            why_untrusted(str(program)) == f"{program.parent} is writable by everyone (mode 0777)"
        )

    def test_sticky_world_writable_directory_passes(self, program: Path) -> None:
        """A sticky directory (like /tmp) is accepted: others cannot replace root's files."""
        program.parent.chmod(0o1777)
        assert why_untrusted(str(program)) is None

    def test_group_writable_only_with_a_non_root_group(self, program: Path) -> None:
        """Group write is fine for group root and unsafe for any other group."""
        program.chmod(0o775)
        assert why_untrusted(str(program)) is None
        os.chown(program, 0, NOBODY)
        assert why_untrusted(str(program)) == (
            f"{program} is writable by group {GROUP} (mode 0775)"
        )

    def test_symlink_owned_by_another_user(self, program: Path, tmp_path: Path) -> None:
        """A link someone else owns is unsafe even when its target is root's."""
        link = tmp_path / "web-restart"
        link.symlink_to(program)
        os.lchown(link, NOBODY, NOBODY)
        assert why_untrusted(str(link)) == (f"symlink {link} is owned by {OWNER}, not root")

    def test_symlink_target_is_checked(self, program: Path, tmp_path: Path) -> None:
        """A root-owned link leads to its target, whose directories are checked as well."""
        link = tmp_path / "web-restart"
        link.symlink_to(program)
        assert why_untrusted(str(link)) is None
        program.parent.chmod(0o777)
        assert why_untrusted(str(link)) == f"{program.parent} is writable by everyone (mode 0777)"

    def test_missing_not_executable_and_relative(self, program: Path) -> None:
        """A program that is missing, not executable or not absolute is reported too."""
        assert why_untrusted(f"{program}.old") == f"{program}.old: No such file or directory"
        program.chmod(0o644)
        assert why_untrusted(str(program)) == f"{program} is not executable (mode 0644)"
        assert why_untrusted("restart-web") == "restart-web is not an absolute path"
