"""End-to-end tests of the lab harness with real keepalived and nginx in network namespaces."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab import Lab, Node, netns, procs, vrrp_instance_conf
from lab.lab import LabError

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(
        os.geteuid() != 0 or not shutil.which("ip"), reason="needs root and iproute2"
    ),
]

needs_keepalived = pytest.mark.skipif(not shutil.which("keepalived"), reason="needs keepalived")
needs_nginx = pytest.mark.skipif(not shutil.which("nginx"), reason="needs nginx")

# The test asks for this exact body from another namespace with the system python3, as a
# check that does not go through the harness's own `Node.http_get`.
URLLIB_GET = (
    "import sys, urllib.request; "
    "sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())"
)


@pytest.fixture
def lab2(tmp_path: Path) -> Iterator[Lab]:
    """A two-node lab without gateway, torn down after the test."""
    with Lab(nodes=2, workdir=tmp_path) as lab:
        yield lab


def _configure_pair(lab: Lab, prio1: int, prio2: int, state1: str = "BACKUP") -> None:
    """Write keepalived.conf for n1 and n2 sharing the lab VIP."""
    n1, n2 = lab.nodes
    n1.write_keepalived_conf(vrrp_instance_conf(n1, priority=prio1, vip=lab.vip, state=state1))
    n2.write_keepalived_conf(vrrp_instance_conf(n2, priority=prio2, vip=lab.vip))


def _existing_namespaces() -> set[str]:
    return set(netns.list_netns())


class TestVrrpInstanceConf:
    """`vrrp_instance_conf` text generation."""

    def test_contains_global_script_and_instance_blocks(self) -> None:
        """The text has global_defs, one vrrp_script per track script and a tracking VI_1."""
        node = Node("n7", "unused", "10.213.7.7", Path("/nonexistent"))
        text = vrrp_instance_conf(
            node,
            priority=120,
            vip="10.213.7.100",
            track_scripts={"chk_nginx": 'script "/bin/true"\n interval 1\n fall 1\n rise 1'},
            extra_instance='notify_master "/bin/true"',
            extra_global="max_auto_priority",
        )
        assert "router_id n7" in text
        assert "enable_script_security" in text
        assert "script_user root" in text
        assert "max_auto_priority" in text
        assert "vrrp_script chk_nginx {" in text
        assert "state BACKUP" in text
        assert "interface eth0" in text
        assert "virtual_router_id 51" in text
        assert "priority 120" in text
        assert "10.213.7.100/24" in text
        assert "track_script {\n        chk_nginx\n    }" in text
        assert 'notify_master "/bin/true"' in text
        assert "nopreempt" not in text

    def test_rejects_out_of_range_values(self) -> None:
        """Invalid state, priority or router id raise ValueError."""
        node = Node("n1", "unused", "10.213.7.1", Path("/nonexistent"))
        with pytest.raises(ValueError, match="state"):
            vrrp_instance_conf(node, priority=100, vip="10.213.7.100", state="LEADER")
        with pytest.raises(ValueError, match="priority"):
            vrrp_instance_conf(node, priority=256, vip="10.213.7.100")
        with pytest.raises(ValueError, match="vrid"):
            vrrp_instance_conf(node, priority=100, vip="10.213.7.100", vrid=0)

    def test_adverts_and_vip_on_their_own_interfaces_with_extra_blocks(self) -> None:
        """Adverts on one interface, the VIP on another, extra blocks before the instance."""
        node = Node("n1", "unused", "10.213.7.1", Path("/nonexistent"))
        text = vrrp_instance_conf(
            node,
            priority=150,
            vip="10.213.7.100",
            interface="eth1",
            vip_dev="eth0",
            extra_top='track_file t {\n    file "/x"\n}',
        )
        assert "interface eth1" in text
        assert "10.213.7.100/24 dev eth0" in text
        assert text.index("track_file t {") < text.index("vrrp_instance VI_1 {")

    @needs_keepalived
    def test_keepalived_accepts_generated_config(self, tmp_path: Path) -> None:
        """`keepalived -t` inside a node accepts a config with a track script."""
        with Lab(nodes=1, workdir=tmp_path) as lab:
            (n1,) = lab.nodes
            n1.write_keepalived_conf(
                vrrp_instance_conf(
                    n1,
                    priority=150,
                    vip=lab.vip,
                    state="MASTER",
                    track_scripts={"chk": 'script "/bin/true"\ninterval 1\nweight 0'},
                )
            )
            res = n1.run(["keepalived", "-t", "-l", "-f", str(n1.keepalived_conf)], timeout=20)
            assert res.returncode == 0, res.stdout + res.stderr


class TestLabTopology:
    """`Lab` building: names, addresses, gateway and isolation."""

    def test_nodes_have_addresses_and_unique_namespaces(self, lab2: Lab) -> None:
        """Node i carries 10.213.7.i on eth0 in its own namespace and the VIP is .100."""
        n1, n2 = lab2.nodes
        assert (n1.name, n2.name) == ("n1", "n2")
        assert (n1.address, n2.address, lab2.vip) == ("10.213.7.1", "10.213.7.2", "10.213.7.100")
        assert lab2.gateway is None
        assert set(lab2.namespaces) <= _existing_namespaces()
        assert n1.ns != n2.ns
        assert n1.has_address("10.213.7.1")
        assert not n1.has_address("10.213.7.2")
        assert n1.dir.is_dir() and n2.dir.is_dir()
        res = n1.run(["ip", "-o", "-4", "addr", "show", "dev", "eth0"], check=True, timeout=10)
        assert "10.213.7.1/24" in res.stdout
        assert lab2.holders(lab2.vip) == []

    def test_two_labs_at_once_do_not_clash(self, tmp_path: Path) -> None:
        """Two labs exist side by side with distinct namespaces and the same addresses."""
        with (
            Lab(nodes=1, workdir=tmp_path / "a") as lab_a,
            Lab(nodes=1, workdir=tmp_path / "b") as lab_b,
        ):
            assert not set(lab_a.namespaces) & set(lab_b.namespaces)
            assert lab_a.nodes[0].has_address("10.213.7.1")
            assert lab_b.nodes[0].has_address("10.213.7.1")

    @needs_nginx
    def test_gateway_is_reachable_and_nothing_routes_out(self, tmp_path: Path) -> None:
        """Nodes route via the gateway at .254 and reach it, but no namespace routes out."""
        with Lab(nodes=2, workdir=tmp_path, gateway=True) as lab:
            gw = lab.gateway
            assert gw is not None
            assert (gw.name, gw.address) == ("gw", "10.213.7.254")
            n1 = lab.nodes[0]
            routes = n1.run(["ip", "route", "show", "default"], check=True, timeout=10)
            assert "default via 10.213.7.254 dev eth0" in routes.stdout
            gw.start_nginx()
            assert n1.http_get(gw.address) == "node gw\n"
            # TEST-NET-1 stands for "anything outside": the gateway has no route to it.
            out = gw.run(["ip", "route", "get", "192.0.2.1"], timeout=10)
            assert out.returncode != 0

    @needs_nginx
    def test_client_reaches_nodes_through_the_gateway_and_heartbeat_stays_apart(
        self, tmp_path: Path
    ) -> None:
        """The client is routed to the nodes by the gateway; only nodes share the heartbeat."""
        with Lab(nodes=2, workdir=tmp_path, gateway=True, heartbeat=True, client=True) as lab:
            n1, n2 = lab.nodes
            assert lab.client is not None and lab.gateway is not None
            n1.start_nginx()
            assert lab.client.http_get(n1.address) == "node n1\n"
            assert n2.has_address(lab.heartbeat_address(n2))
            assert lab.heartbeat_address(n2) == "10.213.8.2"
            assert not lab.gateway.has_address("10.213.8.254")
            out = lab.gateway.run(["ip", "route", "get", lab.heartbeat_address(n1)], timeout=10)
            assert out.returncode != 0

    @needs_nginx
    def test_a_port_that_stops_forwarding_cuts_the_node_off(self, tmp_path: Path) -> None:
        """A disabled bridge port cuts its node off the gateway; enabling it reconnects it."""
        with Lab(nodes=1, workdir=tmp_path, gateway=True) as lab:
            n1 = lab.nodes[0]
            assert lab.gateway is not None
            n1.start_nginx()
            netns.set_bridge_port_state(lab.switch_ns, lab.port(n1), forwarding=False)
            with pytest.raises(RuntimeError):
                lab.gateway.http_get(n1.address, timeout=0.5)
            assert n1.run(["cat", "/sys/class/net/eth0/carrier"], timeout=10).stdout == "1\n"
            netns.set_bridge_port_state(lab.switch_ns, lab.port(n1), forwarding=True)
            assert lab.gateway.http_get(n1.address) == "node n1\n"

    def test_a_client_needs_the_gateway(self, tmp_path: Path) -> None:
        """A client without a gateway to route it is refused before anything is built."""
        with pytest.raises(ValueError, match="gateway"):
            Lab(nodes=1, workdir=tmp_path, client=True)

    def test_wait_until_times_out_with_message(self, tmp_path: Path) -> None:
        """wait_until raises TimeoutError naming the awaited condition."""
        lab = Lab(nodes=1, workdir=tmp_path)
        with pytest.raises(TimeoutError, match=r"timed out after 0.3s waiting for never"):
            lab.wait_until(lambda: False, timeout=0.3, interval=0.05, what="never")


@needs_keepalived
class TestKeepalivedFailover:
    """Real keepalived VRRP between two lab nodes."""

    def test_vip_on_master_then_moves_on_sigterm(self, lab2: Lab) -> None:
        """The priority-150 node alone holds the VIP; SIGTERM on it moves the VIP to n2."""
        n1, n2 = lab2.nodes
        _configure_pair(lab2, 150, 100, state1="MASTER")
        n1.start_keepalived()
        n2.start_keepalived()
        lab2.wait_until(lambda: lab2.holders(lab2.vip) == [n1], timeout=20, what="VIP on n1")
        n1_pids = n1.keepalived_pids()
        assert len(n1_pids) >= 2  # main process and VRRP child
        assert not set(n1_pids) & set(n2.keepalived_pids())
        assert n1.vrrp_pidfile.exists()

        n1.stop_keepalived(signal.SIGTERM, wait=10.0)

        lab2.wait_until(lambda: lab2.holders(lab2.vip) == [n2], timeout=15, what="VIP on n2")
        assert not n1.keepalived_running()
        assert not any(procs.is_alive(pid) for pid in n1_pids)
        for pidfile in (n1.keepalived_pidfile, n1.vrrp_pidfile, n1.checker_pidfile):
            assert not pidfile.exists()
        assert n2.keepalived_running()

    def test_backup_state_node_preempts(self, lab2: Lab) -> None:
        """A BACKUP-state node with higher priority takes the VIP from a running master."""
        n1, n2 = lab2.nodes
        _configure_pair(lab2, 150, 100)
        n2.start_keepalived()
        lab2.wait_until(lambda: lab2.holders(lab2.vip) == [n2], timeout=20, what="VIP on n2")
        n1.start_keepalived()
        lab2.wait_until(lambda: lab2.holders(lab2.vip) == [n1], timeout=20, what="VIP on n1")


@needs_nginx
class TestNginxPerNode:
    """Per-node nginx: answering, process scoping and breaking."""

    def test_each_node_answers_on_its_own_address(self, lab2: Lab) -> None:
        """Every node's nginx serves its own name on its own address inside the lab."""
        for node in lab2.nodes:
            node.start_nginx()
        n1, n2 = lab2.nodes
        for node in lab2.nodes:
            assert node.http_get(node.address) == f"node {node.name}\n"
        res = n2.run(["python3", "-c", URLLIB_GET, f"http://{n1.address}/"], timeout=20)
        assert res.returncode == 0, res.stderr
        assert res.stdout == "node n1\n"

    def test_nginx_pids_are_scoped_to_the_namespace(self, lab2: Lab) -> None:
        """n1.nginx_pids() lists only nginx processes of n1's namespace, never n2's."""
        n1, n2 = lab2.nodes
        n1.start_nginx()
        n2.start_nginx()
        p1, p2 = n1.nginx_pids(), n2.nginx_pids()
        assert len(p1) >= 2 and len(p2) >= 2  # master and one worker each
        assert not set(p1) & set(p2)
        assert all(procs.proc_comm(pid) == "nginx" and n1.owns_pid(pid) for pid in p1)

    def test_break_nginx_stops_only_that_node_and_blocks_restart(self, lab2: Lab) -> None:
        """break_nginx leaves n1 without nginx, n2 untouched, and restarts on n1 failing."""
        n1, n2 = lab2.nodes
        n1.start_nginx()
        n2.start_nginx()
        n2_before = n2.nginx_pids()

        n1.break_nginx()

        assert n1.nginx_pids() == []
        assert not n1.nginx_running()
        assert n2.nginx_pids() == n2_before
        assert n2.http_get() == "node n2\n"
        with pytest.raises(RuntimeError):
            n1.http_get(timeout=2.0)
        conf = str(n1.nginx_conf)
        assert n1.run(["nginx", "-t", "-c", conf], timeout=20).returncode != 0
        assert n1.run(["nginx", "-c", conf], timeout=20).returncode != 0
        assert n1.nginx_pids() == []

        n1.repair_nginx()
        assert n1.run(["nginx", "-t", "-c", conf], timeout=20).returncode == 0
        n1.start_nginx()
        assert n1.http_get() == "node n1\n"


def _populate(lab: Lab) -> set[int]:
    """Start keepalived and nginx on every node plus stray processes; return all pids."""
    _configure_pair(lab, 150, 100, state1="MASTER")
    for node in lab.nodes:
        node.start_keepalived()
        node.start_nginx()
    n1 = lab.nodes[0]
    n1.popen(["sleep", "300"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # A daemonized process the lab never saw start: only the namespace scan can find it.
    n1.run(["sh", "-c", "sleep 300 >/dev/null 2>&1 </dev/null &"], check=True, timeout=10)
    lab.wait_until(
        lambda: all(node.vrrp_pidfile.exists() for node in lab.nodes),
        timeout=10,
        what="VRRP children",
    )
    pids = lab.started_pids()
    assert len(pids) >= 10  # 2x keepalived (2), 2x nginx (2), sleep, orphaned sleep
    return pids


@needs_keepalived
@needs_nginx
class TestTeardown:
    """Leaving the `with` block removes every namespace and process of the lab."""

    def test_normal_exit_cleans_up(self, tmp_path: Path) -> None:
        """After a normal exit no lab namespace exists and no started pid is alive."""
        with Lab(nodes=2, workdir=tmp_path, gateway=True) as lab:
            pids = _populate(lab)
            names = set(lab.namespaces)
            assert names <= _existing_namespaces()
        assert not names & _existing_namespaces()
        assert [pid for pid in pids if procs.is_alive(pid)] == []

    def test_exception_in_body_cleans_up(self, tmp_path: Path) -> None:
        """When the body raises, the error propagates and the lab is still cleaned up."""
        pids: set[int] = set()
        names: set[str] = set()
        with pytest.raises(RuntimeError, match="boom"), Lab(nodes=2, workdir=tmp_path) as lab:
            pids = _populate(lab)
            names = set(lab.namespaces)
            raise RuntimeError("boom")
        assert names
        assert not names & _existing_namespaces()
        assert [pid for pid in pids if procs.is_alive(pid)] == []

    def test_failed_setup_cleans_up(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """A failure while building raises LabError and leaves no namespace behind."""

        def fail(ns: str, via: str) -> None:
            raise netns.NetnsError("injected failure")

        monkeypatch.setattr(netns, "add_default_route", fail)
        lab = Lab(nodes=2, workdir=tmp_path, gateway=True)
        with pytest.raises(LabError, match="injected failure"):
            lab.start()
        assert not set(lab.namespaces) & _existing_namespaces()
