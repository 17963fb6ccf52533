"""lint against keepalived 2.2.7 itself: which findings keepalived -t also rejects, and
keepalived's own sample configurations (Debian's) read without an error it disagrees with."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from kakit.lint import lint, read
from kakit.lint.scripts import program_path
from tests.deploy.test_snippets import keepalived_test
from tests.lint.test_rules import CASES, Case

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("keepalived") or not shutil.which("unshare"),
    reason="needs root, unshare and keepalived",
)

#: Rules whose failing example keepalived -t 2.2.7 rejects too (exit status not 0). The others
#: pass -t: their evidence is a lab test (tests/lab/test_lint_lab.py) or keepalived's documented
#: behaviour, as docs/lint.md records per rule.
REJECTED_BY_KEEPALIVED_T = {
    "syntax",
    "not-keepalived",
    "strict-auth",
    "strict-state",
    "lvs-dr-port",
    "auth-pass-length",
    "nopreempt-state",
    "vrid-collision",
    "script-unsafe",
    "script-security",
}
#: script-missing: a missing track script fails -t, a missing notify program passes it.
MIXED = {"script-missing"}

SAMPLES = Path("/usr/share/doc/keepalived/samples")


def materialise(case: Case, which: int, tmp_path: Path) -> Path:
    """The case's file (failing: 0, passing: 1) with its program paths made real."""
    directory = tmp_path / "bin"
    directory.mkdir(mode=0o755, exist_ok=True)
    tmp_path.chmod(0o755)
    paths = {}
    for name, mode in (("ok", 0o755), ("kacheck", 0o755), ("noexec", 0o644), ("unsafe", 0o777)):
        path = directory / name
        path.write_text("#!/bin/sh\nexit 0\n")
        path.chmod(mode)
        paths[name] = str(path)
    paths["missing"] = str(directory / "missing")
    text = case.failing if which == 0 else case.passing
    for name, value in paths.items():
        text = text.replace("{" + name + "}", value)
    config = tmp_path / f"keepalived-{which}.conf"
    config.write_text(text)
    return config


@pytest.mark.parametrize("case", CASES, ids=[f"{c.rule}-{i}" for i, c in enumerate(CASES)])
def test_keepalived_t_agrees(case: Case, tmp_path: Path) -> None:
    """The corrected file passes keepalived -t; the failing one fails it where the rule says so."""
    assert keepalived_test(materialise(case, 1, tmp_path)).returncode == 0
    failed = keepalived_test(materialise(case, 0, tmp_path)).returncode != 0
    if case.rule in REJECTED_BY_KEEPALIVED_T:
        assert failed
    elif case.rule not in MIXED:
        assert not failed


#: Rules about this host's files rather than the configuration's meaning: on the samples they
#: can only say that the programs the samples name are not installed here.
HOST_RULES = {"script-missing", "script-not-executable", "script-unsafe"}


@pytest.mark.skipif(not SAMPLES.is_dir(), reason="Debian's keepalived samples are not installed")
@pytest.mark.parametrize(
    "sample",
    sorted(SAMPLES.glob("keepalived.conf.*")) if SAMPLES.is_dir() else [],
    ids=lambda p: p.name,
)
def test_samples_have_no_error_keepalived_disagrees_with(sample: Path, tmp_path: Path) -> None:
    """No error on a sample but "not installed here" (true) or shell code keepalived fails on."""
    copy = tmp_path / sample.name
    copy.write_text(sample.read_text())
    node = read(str(copy))
    errors = [f for f in lint(node) if f.severity == "error"]
    # script-shell: keepalived.conf.vrrp.localcheck's `script "</dev/tcp/127.0.0.1/80"`, which
    # keepalived 2.2.7 runs without a shell, failing every time (tests/lab/test_lint_lab.py).
    meaning = [f"{f.line}: {f.rule}" for f in errors if f.rule not in HOST_RULES]
    assert [m for m in meaning if not m.endswith("script-shell")] == []
    programs = {program.item.line: program for program in node.programs}
    for finding in errors:
        if finding.rule == "script-shell":
            assert programs[finding.line].argv[0].startswith("</dev/tcp/")
            continue
        assert finding.rule == "script-missing", finding
        path = program_path(programs[finding.line].argv)
        assert not os.path.isabs(path) or not os.path.lexists(path)
