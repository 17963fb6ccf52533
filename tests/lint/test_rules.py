"""Every lint rule, from one table: a configuration it reports, and a corrected one it passes."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from kakit.lint import codes
from tests.lint.helpers import GLOBAL, findings, instance, rules

STRICT = "global_defs {\n    vrrp_strict\n    enable_script_security\n    script_user root\n}\n"
NO_SECURITY = "global_defs {\n    script_user root\n}\n"
UNICAST_A = "    unicast_src_ip 10.213.7.1\n    unicast_peer {\n        10.213.7.2\n    }\n"
UNICAST_B = "    unicast_src_ip 10.213.7.2\n    unicast_peer {\n        10.213.7.1\n    }\n"


def lvs(kind: str, vip: str = "10.213.7.100", real: str = "10.213.7.10", port: int = 80) -> str:
    return (
        f"virtual_server {vip} 80 {{\n    lb_algo rr\n    lb_kind {kind}\n    protocol TCP\n"
        f"    real_server {real} {port} {{\n        weight 1\n        TCP_CHECK {{\n"
        "            connect_timeout 3\n        }\n    }\n}\n"
    )


def script(name: str, program: str, extra: str = "") -> str:
    return f'vrrp_script {name} {{\n    script "{program}"\n{extra}}}\n'


TRACK = "    track_script {\n        chk\n    }\n"


class Case(NamedTuple):
    """A rule, a file (and peer) it reports, and the corrected file (and peer) it passes."""

    rule: str
    failing: str
    passing: str
    peer_failing: str | None = None
    peer_passing: str | None = None
    config: str | None = None  # a kakit.yaml body for the kacheck rules


CASES = [
    Case("syntax", GLOBAL + instance() + "}\n", GLOBAL + instance()),
    Case(
        "syntax",
        GLOBAL + instance().replace("    priority", "\u00a0   priority"),
        GLOBAL + instance(),
    ),
    Case(
        "strict-vip",
        STRICT + instance() + lvs("NAT", real="10.213.7.10"),
        GLOBAL + instance() + lvs("NAT", real="10.213.7.10"),
    ),
    Case("strict-unicast", STRICT + instance(body=UNICAST_A), GLOBAL + instance(body=UNICAST_A)),
    Case(
        "strict-auth",
        STRICT
        + instance(
            body="    authentication {\n        auth_type PASS\n        auth_pass 1111\n    }\n"
        ),
        STRICT + instance(),
    ),
    Case("strict-state", STRICT + instance(state="MASTER"), STRICT + instance(state="BACKUP")),
    Case("lvs-dr", GLOBAL + instance() + lvs("DR"), GLOBAL + instance() + lvs("NAT")),
    Case(
        "lvs-dr-port", GLOBAL + instance() + lvs("DR", port=8080), GLOBAL + instance() + lvs("DR")
    ),
    Case(
        "lvs-nat-gateway",
        GLOBAL + instance(vip="10.213.7.100/32") + lvs("NAT"),
        GLOBAL + instance(vip="10.213.7.100/24") + lvs("NAT"),
    ),
    Case(
        "lvs-vip",
        GLOBAL + instance() + lvs("NAT", vip="10.213.7.200"),
        GLOBAL + instance() + lvs("NAT"),
    ),
    Case(
        "vip-node-address",
        GLOBAL + instance(vip="10.213.7.1/24", body=UNICAST_A),
        GLOBAL + instance(body=UNICAST_A),
    ),
    Case(
        "auth-pass-length",
        GLOBAL
        + instance(
            body="    authentication {\n        auth_type PASS\n        auth_pass 1234567890\n    }\n"
        ),
        GLOBAL
        + instance(
            body="    authentication {\n        auth_type PASS\n        auth_pass 12345678\n    }\n"
        ),
    ),
    Case(
        "nopreempt-state",
        GLOBAL + instance(state="MASTER", body="    nopreempt\n"),
        GLOBAL + instance(state="BACKUP", body="    nopreempt\n"),
    ),
    Case(
        "vrid-collision",
        GLOBAL + instance() + instance("VI_2", vip="10.213.7.101/24"),
        GLOBAL + instance() + instance("VI_2", vrid=52, vip="10.213.7.101/24"),
    ),
    Case(
        "script-missing",
        GLOBAL + script("chk", "{missing}") + instance(body=TRACK),
        GLOBAL + script("chk", "{ok}") + instance(body=TRACK),
    ),
    Case(
        "script-missing",
        GLOBAL + instance(body='    notify "{missing} arg"\n'),
        GLOBAL + instance(body='    notify "{ok} arg"\n'),
    ),
    Case(
        "script-not-executable",
        GLOBAL + script("chk", "{noexec}") + instance(body=TRACK),
        GLOBAL + script("chk", "{ok}") + instance(body=TRACK),
    ),
    Case(
        "script-unsafe",
        GLOBAL + script("chk", "{unsafe}") + instance(body=TRACK),
        GLOBAL + script("chk", "{ok}") + instance(body=TRACK),
    ),
    Case(
        "script-security",
        NO_SECURITY + script("chk", "{ok}") + instance(body=TRACK),
        GLOBAL + script("chk", "{ok}") + instance(body=TRACK),
    ),
    Case(
        "script-timeout",
        GLOBAL + script("chk", "{kacheck} web", "    interval 2\n") + instance(body=TRACK),
        GLOBAL
        + script("chk", "{kacheck} web", "    interval 6\n    timeout 5\n")
        + instance(body=TRACK),
        config="checks:\n  web:\n    type: tcp\n    port: 80\n    deadline: 5\n",
    ),
    Case(
        "kacheck-unknown",
        GLOBAL + script("chk", "{kacheck} nosuch") + instance(body=TRACK),
        GLOBAL + script("chk", "{kacheck} web") + instance(body=TRACK),
        config="checks:\n  web:\n    type: tcp\n    port: 80\n",
    ),
    Case(
        "pair-mismatch",
        GLOBAL + instance(),
        GLOBAL + instance(),
        GLOBAL + instance(vrid=52),
        GLOBAL + instance(),
    ),
    Case(
        "pair-mismatch",
        GLOBAL + instance(),
        GLOBAL + instance(),
        GLOBAL + instance(body="    advert_int 2\n"),
        GLOBAL + instance(body="    advert_int 1\n"),
    ),
    Case(
        "pair-mismatch",
        GLOBAL + instance(),
        GLOBAL + instance(),
        GLOBAL + instance(body="    version 3\n"),
        GLOBAL + instance(body="    version 2\n"),
    ),
    Case(
        "pair-mismatch",
        GLOBAL + instance(),
        GLOBAL + instance(),
        GLOBAL
        + instance(
            body="    authentication {\n        auth_type PASS\n        auth_pass x\n    }\n"
        ),
        GLOBAL + instance(),
    ),
    Case(
        "pair-mismatch",
        GLOBAL + instance(),
        GLOBAL + instance(),
        GLOBAL + instance(vip="10.213.7.101/24"),
        GLOBAL + instance(vip="10.213.7.100/24"),
    ),
    Case(
        "pair-unicast",
        GLOBAL + instance(body=UNICAST_A),
        GLOBAL + instance(body=UNICAST_A),
        GLOBAL + instance(),
        GLOBAL + instance(body=UNICAST_B),
    ),
    Case(
        "pair-unicast",
        GLOBAL + instance(body=UNICAST_A),
        GLOBAL + instance(body=UNICAST_A),
        GLOBAL + instance(body=UNICAST_B.replace("10.213.7.1\n", "10.213.7.9\n")),
        GLOBAL + instance(body=UNICAST_B),
    ),
    Case(
        "pair-source",
        GLOBAL + instance(body=UNICAST_A),
        GLOBAL + instance(body=UNICAST_A),
        GLOBAL
        + instance(
            body=UNICAST_A.replace("peer {\n        10.213.7.2", "peer {\n        10.213.7.1")
        ),
        GLOBAL + instance(body=UNICAST_B),
    ),
    Case(
        "pair-priority",
        GLOBAL + instance(state="MASTER"),
        GLOBAL + instance(priority=150),
        GLOBAL + instance(state="MASTER"),
        GLOBAL + instance(),
    ),
    Case(
        "pair-missing",
        GLOBAL + instance() + instance("VI_2", vrid=52),
        GLOBAL + instance(),
        GLOBAL + instance(),
        GLOBAL + instance(),
    ),
    Case(
        "weights",
        GLOBAL + script("chk", "{ok}", "    weight -30\n") + instance(priority=150, body=TRACK),
        GLOBAL + script("chk", "{ok}", "    weight -60\n") + instance(priority=150, body=TRACK),
        GLOBAL + instance(priority=100),
        GLOBAL + instance(priority=100),
    ),
    Case("not-keepalived", "version: 1\nchecks: {}\n", GLOBAL + instance()),
    Case(
        "script-shell",
        GLOBAL + script("chk", "{ok} && false") + instance(body=TRACK),
        GLOBAL + script("chk", "{ok}") + instance(body=TRACK),
    ),
    Case(
        "script-shell",
        GLOBAL + script("chk", "</dev/tcp/127.0.0.1/80") + instance(body=TRACK),
        GLOBAL + script("chk", "{ok}") + instance(body=TRACK),
    ),
]


@pytest.fixture(name="programs")
def _programs(tmp_path: Path) -> dict[str, str]:
    """Script paths for the cases: a good one, a missing, a non-executable and an unsafe one."""
    directory = tmp_path / "bin"
    directory.mkdir(mode=0o755)
    made = {}
    for name, mode in (("ok", 0o755), ("kacheck", 0o755), ("noexec", 0o644), ("unsafe", 0o777)):
        path = directory / name
        path.write_text("#!/bin/sh\nexit 0\n")
        path.chmod(mode)
        made[name] = str(path)
    made["missing"] = str(directory / "missing")
    return made


def run(
    case: Case,
    which: int,
    tmp_path: Path,
    programs: dict[str, str],
    make_config: Callable[[str], Any],
) -> set[str]:
    text, peer = (
        (case.failing, case.peer_failing) if which == 0 else (case.passing, case.peer_passing)
    )
    text = text.replace("{", "{{").replace("}", "}}")
    for name in programs:
        text = text.replace("{{" + name + "}}", "{" + name + "}")
    text = text.format(**programs)
    config = make_config(case.config) if case.config is not None else None
    directory = tmp_path / ("failing" if which == 0 else "passing")
    directory.mkdir()
    return rules(findings(directory, text, peer, config))


@pytest.mark.parametrize("case", CASES, ids=[f"{c.rule}-{i}" for i, c in enumerate(CASES)])
class TestEveryRule:
    """Each rule reports its failing example and says nothing of the corrected one."""

    def test_reports_the_failing_example(
        self, case: Case, tmp_path: Path, programs: dict[str, str], make_config: Any
    ) -> None:
        """The rule is among the findings of the failing configuration."""
        assert case.rule in run(case, 0, tmp_path, programs, make_config)

    def test_passes_the_corrected_example(
        self, case: Case, tmp_path: Path, programs: dict[str, str], make_config: Any
    ) -> None:
        """The rule is not among the findings of the corrected configuration."""
        assert case.rule not in run(case, 1, tmp_path, programs, make_config)


def test_every_rule_has_a_case() -> None:
    """No rule id goes untested."""
    assert set(codes()) == {case.rule for case in CASES}


def test_root_is_needed_for_the_unsafe_case() -> None:
    """The unsafe-script case relies on root-owned temporary directories (tests run as root)."""
    assert os.geteuid() == 0
