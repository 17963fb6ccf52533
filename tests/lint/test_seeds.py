"""The seed configurations (fixtures/seed*.conf, copied from the seed write-ups with their
addresses renumbered into 10.213.0.0/16, subnet for subnet) give the findings their outages
came from."""

from __future__ import annotations

from pathlib import Path

from kakit.lint import lint, read
from tests.lint.helpers import rules

FIXTURES = Path(__file__).parent / "fixtures"


def lint_fixture(name: str, peer: str | None = None) -> set[str]:
    node = read(str(FIXTURES / name))
    other = read(str(FIXTURES / peer)) if peer else None
    return rules(lint(node, other))


class TestSeed000:
    """keepalived + IPVS: vrrp_strict made the VIP unpingable, lb_kind DR broke the service."""

    def test_strict_vip_and_dr(self) -> None:
        """test-1's file: the strict VIP carrying a virtual_server, and the DR reminder."""
        assert {"strict-vip", "strict-state", "lvs-dr"} <= lint_fixture("seed000-test-1.conf")

    def test_final_nat_needs_a_gateway(self) -> None:
        """The final NAT file has no floating gateway for the real servers, and no strict VIP."""
        found = lint_fixture("seed000-final.conf")
        assert "lvs-nat-gateway" in found
        assert "strict-vip" not in found


class TestSeed004:
    """HA course notes: equal priorities, a VIP equal to a node address, a shared source."""

    def test_case_1_pair(self) -> None:
        """server1 with server2: equal priorities, the VIP is server1's own address."""
        found = lint_fixture("seed004-server1.conf", "seed004-server2.conf")
        assert {"pair-priority", "vip-node-address", "pair-source"} <= found

    def test_case_2_dr(self) -> None:
        """dir1 with dir2: the DR reminder, and a pair that otherwise agrees."""
        found = lint_fixture("seed004-dir1.conf", "seed004-dir2.conf")
        assert found == {"lvs-dr"}

    def test_auth_pass_over_eight(self, tmp_path: Path) -> None:
        """The notes' "1-8 characters" limit: server1 with a 10-character auth_pass."""
        text = (FIXTURES / "seed004-server1.conf").read_text().replace("123456", "1234567890")
        (tmp_path / "k.conf").write_text(text)
        assert "auth-pass-length" in rules(lint(read(str(tmp_path / "k.conf"))))


class TestSeed001:
    """LVS + keepalived with a `chk_schedown` script written as shell code."""

    def test_no_break_spaces_as_copied(self) -> None:
        """As published, the file's indentation is U+00A0: keepalived reads other keywords."""
        node = read(str(FIXTURES / "seed001-master.conf"))
        found = [f for f in lint(node) if f.rule == "syntax"]
        assert found and all("U+00A0" in f.message for f in found)

    def test_shell_code_as_a_script(self, tmp_path: Path) -> None:
        """With the blanks repaired, `[[ ... ]] && exit 1` is a program keepalived cannot find."""
        path = tmp_path / "k.conf"
        path.write_text((FIXTURES / "seed001-master.conf").read_text().replace("\u00a0", " "))
        found = [f for f in lint(read(str(path))) if f.rule == "script-missing"]
        assert len(found) == 1
        assert "keepalived runs no shell, so && [[ ]] || mean nothing" in found[0].message

    def test_weight_minus_two_against_99_and_98(self, tmp_path: Path) -> None:
        """Master 100 with weight -2 falls to 98: below a backup at 99, a tie with one at 98."""
        master = (FIXTURES / "seed001-master.conf").read_text().replace("\u00a0", " ")
        (tmp_path / "m.conf").write_text(master)
        found = {}
        for backup in (99, 98):
            text = master.replace("state MASTER", "state BACKUP")
            text = text.replace("priority 100", f"priority {backup}")
            (tmp_path / f"b{backup}.conf").write_text(text)
            node, peer = read(str(tmp_path / "m.conf")), read(str(tmp_path / f"b{backup}.conf"))
            found[backup] = rules(lint(node, peer))
        assert "weights" not in found[99]
        assert "weights" in found[98]
