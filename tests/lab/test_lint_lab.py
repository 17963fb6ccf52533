"""What lint calls broken and keepalived -t passes, shown misbehaving under real keepalived.

Two namespaces joined by a veth: keepalived runs in one, the other is a client. Recorded in
docs/lint.md ("Evidence").
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(
        os.geteuid() != 0 or not all(shutil.which(t) for t in ("ip", "keepalived")),
        reason="needs root, iproute2 and keepalived",
    ),
]

NODE, CLIENT, VIP = "10.213.71.1", "10.213.71.2", "10.213.71.100"


def sh(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=30, check=check)


@pytest.fixture(name="pair")
def _pair() -> Iterator[tuple[str, str]]:
    """A keepalived namespace (veth ``ka``, NODE) and a client namespace (CLIENT)."""
    tag = f"lint{os.getpid()}"
    node, client = f"{tag}a", f"{tag}b"
    sh("ip", "netns", "add", node)
    sh("ip", "netns", "add", client)
    try:
        sh("ip", "link", "add", f"{tag}x", "type", "veth", "peer", "name", f"{tag}y")
        sh("ip", "link", "set", f"{tag}x", "netns", node, "name", "ka")
        sh("ip", "link", "set", f"{tag}y", "netns", client, "name", "kb")
        for ns, dev, address in ((node, "ka", NODE), (client, "kb", CLIENT)):
            sh("ip", "-n", ns, "addr", "add", f"{address}/24", "dev", dev)
            sh("ip", "-n", ns, "link", "set", dev, "up")
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        yield node, client
    finally:
        sh("ip", "netns", "del", node, check=False)
        sh("ip", "netns", "del", client, check=False)


def conf(vip: str, strict: bool) -> str:
    return (
        "global_defs {\n    script_user root\n    enable_script_security\n"
        + ("    vrrp_strict\n" if strict else "")
        + "}\nvrrp_instance VI_1 {\n    state BACKUP\n    interface ka\n"
        f"    virtual_router_id 71\n    priority 100\n    advert_int 1\n"
        f"    unicast_src_ip {NODE}\n"
        f"    virtual_ipaddress {{\n        {vip}/24\n    }}\n}}\n"
    )


def answers_ping(ns: str, address: str) -> bool:
    """Whether ``address`` answers an ICMP echo from namespace ``ns`` (icmplib, 3 tries)."""
    code = f"import icmplib; print(icmplib.ping({address!r}, count=3, interval=0.2, timeout=1).is_alive)"
    done = sh("ip", "netns", "exec", ns, sys.executable, "-c", code)
    return done.stdout.strip() == "True"


def has_address(ns: str, address: str) -> bool:
    return f"inet {address}/" in sh("ip", "-n", ns, "-4", "addr", "show", "dev", "ka").stdout


def keepalived_argv(namespace: str, config: Path, tag: str = "") -> list[str]:
    """keepalived in the foreground in ``namespace`` on ``config``, with pid files of its own
    beside it (the default ones are shared by every namespace of the machine)."""
    pids = [str(config.parent / f"{tag}{name}.pid") for name in "kvc"]
    command = ["keepalived", "-n", "-l", "-f", str(config)]
    return ["ip", "netns", "exec", namespace, *command, "-p", pids[0], "-r", pids[1], "-c", pids[2]]


@pytest.fixture(name="keepalived")
def _keepalived(tmp_path: Path, pair: tuple[str, str]):
    """Start keepalived in the node namespace on a config; yields a stop function."""
    started: list[subprocess.Popen[str]] = []

    def start(text: str, vip: str) -> subprocess.Popen[str]:
        config = tmp_path / "keepalived.conf"
        config.write_text(text)
        process = subprocess.Popen(
            [*keepalived_argv(pair[0], config), "-D"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        started.append(process)
        deadline = time.monotonic() + 20
        while not has_address(pair[0], vip):
            assert time.monotonic() < deadline, "keepalived never became MASTER"
            time.sleep(0.2)
        time.sleep(1.0)  # MASTER: the VIP is set; let the firewall rule settle
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=15)


class TestStrictVip:
    """strict-vip: keepalived -t passes vrrp_strict; the VIP then answers no ping."""

    def test_vip_answers_without_strict(self, pair, keepalived) -> None:
        """Without vrrp_strict the MASTER's VIP answers the client's ping."""
        keepalived(conf(VIP, strict=False), VIP)
        assert answers_ping(pair[1], VIP)

    def test_vip_is_silent_with_strict(self, pair, keepalived) -> None:
        """With vrrp_strict the MASTER holds the VIP and the client's ping gets no reply."""
        keepalived(conf(VIP, strict=True), VIP)
        assert has_address(pair[0], VIP)
        assert answers_ping(pair[1], NODE)  # the node itself still answers
        assert not answers_ping(pair[1], VIP)


class TestVipNodeAddress:
    """vip-node-address: keepalived -t passes it; stopping keepalived takes the node's address."""

    def test_stopping_removes_the_nodes_own_address(self, pair, keepalived) -> None:
        """After keepalived stops, the node no longer has the address it had before."""
        assert has_address(pair[0], NODE)
        process = keepalived(conf(NODE, strict=False), NODE)
        process.terminate()
        process.wait(timeout=15)
        assert not has_address(pair[0], NODE)


# (instance, priority, track_file's own weight, the instance's override or "", failing value)
WEIGHT_CASES = [
    ("W_SUB", 150, "-30", "", "1"),
    ("W_OVERRIDE", 150, "-30", "weight -50", "1"),
    ("W_CLAMP", 100, "-200", "", "1"),
    ("W_ZERO", 100, "0", "", "1"),
    ("W_KAPROBE", 100, "1", "", "-254"),
]


def weights_conf(directory: Path) -> str:
    """One instance per case, each tracking its own track_file, priority changes on the FIFO."""
    text = (
        "global_defs {\n    script_user root\n    enable_script_security\n"
        f"    notify_fifo {directory / 'fifo'}\n    vrrp_notify_priority_changes true\n}}\n"
    )
    for number, (name, priority, weight, override, _value) in enumerate(WEIGHT_CASES, 1):
        (directory / name).write_text("0\n")
        text += (
            f'track_file {name} {{\n    file "{directory / name}"\n    weight {weight}\n}}\n'
            f"vrrp_instance {name} {{\n    state MASTER\n    interface ka\n"
            f"    virtual_router_id {70 + number}\n    priority {priority}\n"
            f"    virtual_ipaddress {{\n        10.213.72.{number}/24\n    }}\n"
            f"    track_file {{\n        {name} {override}\n    }}\n}}\n"
        )
    return text


class FifoKeepalived:
    """keepalived in the node namespace, its notify FIFO read: the last line per instance."""

    def __init__(self, namespace: str, directory: Path, text: str) -> None:
        self.config = directory / "keepalived.conf"
        self.config.write_text(text)
        os.mkfifo(directory / "fifo")
        self.fifo = os.open(directory / "fifo", os.O_RDONLY | os.O_NONBLOCK)
        self.process = subprocess.Popen(
            keepalived_argv(namespace, self.config),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.seen: dict[str, str] = {}
        self.buffer = b""

    def wait_for(self, done: Callable[[], bool]) -> None:
        """Read FIFO lines until ``done()`` (20 s at most)."""
        deadline = time.monotonic() + 20
        while not done():
            assert time.monotonic() < deadline, (self.seen, self.buffer)
            try:
                self.buffer += os.read(self.fifo, 65536)
            except BlockingIOError:
                time.sleep(0.1)
            *lines, self.buffer = self.buffer.split(b"\n")
            for line in lines:
                words = line.decode().split()
                if len(words) == 4 and words[0] == "INSTANCE":
                    self.seen[words[1].strip('"')] = f"{words[2]} {words[3]}"

    def has(self, name: str, line: str) -> bool:
        """The instance's last line is ``line`` (``FAULT``: any FAULT line)."""
        got = self.seen.get(name, "")
        return got.startswith("FAULT ") if line == "FAULT" else got == line

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=15)
        os.close(self.fifo)


def fifo_globals(directory: Path) -> str:
    return (
        "global_defs {\n    script_user root\n    enable_script_security\n"
        f"    notify_fifo {directory / 'fifo'}\n    vrrp_notify_priority_changes true\n}}\n"
    )


def tracking_instance(name: str, number: int, tracking: str) -> str:
    return (
        f"vrrp_instance {name} {{\n    state MASTER\n    interface ka\n"
        f"    virtual_router_id {70 + number}\n    priority 100\n"
        f"    virtual_ipaddress {{\n        10.213.72.{number}/24\n    }}\n{tracking}}}\n"
    )


class TestWeightArithmetic:
    """lint's priorities are keepalived's: each case's effective priority after its file fails."""

    def test_keepalived_reports_what_lint_computes(self, pair, tmp_path: Path) -> None:
        """keepalived's FIFO lines after the failing values are written match `effective`."""
        from kakit.lint import read
        from kakit.lint.weights import FAULT, effective

        tmp_path.chmod(0o755)
        text = fifo_globals(tmp_path)
        for number, (name, priority, weight, override, _value) in enumerate(WEIGHT_CASES, 1):
            (tmp_path / name).write_text("0\n")
            text += f'track_file {name} {{\n    file "{tmp_path / name}"\n    weight {weight}\n}}\n'
            text += tracking_instance(
                name, number, f"    track_file {{\n        {name} {override}\n    }}\n"
            ).replace("priority 100", f"priority {priority}")
        node = FifoKeepalived(pair[0], tmp_path, text)
        expected = {
            instance.name: effective(instance, {f"file:{instance.name}"})
            for instance in read(str(node.config)).instances
        }
        try:
            node.wait_for(
                lambda: all(node.seen.get(n, "").startswith("MASTER") for n, *_ in WEIGHT_CASES)
            )
            for name, *_rest, value in WEIGHT_CASES:
                staged = tmp_path / f".{name}"
                staged.write_text(f"{value}\n")
                staged.rename(tmp_path / name)  # keepalived's inotify sees the move
            want = {
                name: "FAULT" if priority == FAULT else f"MASTER_PRIORITY {priority}"
                for name, priority in expected.items()
            }
            node.wait_for(lambda: all(node.has(n, w) for n, w in want.items()))
        finally:
            node.stop()
        assert expected == {
            "W_SUB": 120,
            "W_OVERRIDE": 100,
            "W_CLAMP": 1,
            "W_ZERO": FAULT,
            "W_KAPROBE": FAULT,
        }


class TestNoShell:
    """script-shell: keepalived -t passes shell code as a script; keepalived runs it without one."""

    def test_shell_code_fails_where_a_shell_would_pass(self, pair, tmp_path: Path) -> None:
        """`/bin/false || true` and a `</dev/tcp/...` redirection both fail: weight -2 applies."""
        from kakit.lint import lint, read

        tmp_path.chmod(0o755)
        scripts = {"S_OR": "/bin/false || true", "S_REDIRECT": "</dev/tcp/127.0.0.1/22"}
        text = fifo_globals(tmp_path)
        for number, (name, command) in enumerate(scripts.items(), 1):
            text += f'vrrp_script chk_{name} {{\n    script "{command}"\n    weight -2\n}}\n'
            text += tracking_instance(
                name, number, f"    track_script {{\n        chk_{name}\n    }}\n"
            )
        node = FifoKeepalived(pair[0], tmp_path, text)
        try:
            # MASTER 98 (failed before it became master) or MASTER_PRIORITY 98 (after).
            node.wait_for(lambda: all(node.seen.get(name, "").endswith(" 98") for name in scripts))
        finally:
            node.stop()
        found = [f for f in lint(read(str(node.config))) if f.rule == "script-shell"]
        assert len(found) == 2


def pair_conf(dev: str, priority: int, extra: str = "", auth: str = "secret") -> str:
    return (
        "global_defs {\n    script_user root\n    enable_script_security\n}\n"
        f"vrrp_instance VI_1 {{\n    state BACKUP\n    interface {dev}\n"
        f"    virtual_router_id 73\n    priority {priority}\n{extra}"
        f"    authentication {{\n        auth_type PASS\n        auth_pass {auth}\n    }}\n"
        f"    virtual_ipaddress {{\n        {VIP}/24\n    }}\n}}\n"
    )


def holds_vip(ns: str, dev: str) -> bool:
    return f"inet {VIP}/" in sh("ip", "-n", ns, "-4", "addr", "show", "dev", dev).stdout


# (case, node A's extra lines, node B's extra lines, B's auth_pass, both MASTER?)
PAIR_CASES = [
    ("agreeing pair", "", "", "secret", False),
    ("advert_int differs", "    advert_int 2\n", "    advert_int 1\n", "secret", True),
    ("auth_pass differs", "", "", "other", True),
    (
        "unicast one way",
        f"    unicast_src_ip {NODE}\n    unicast_peer {{\n        {CLIENT}\n    }}\n",
        "",
        "secret",
        True,
    ),
]


class TestPairMismatch:
    """pair-mismatch and pair-unicast: keepalived -t passes each file; together, two masters."""

    @pytest.mark.parametrize("case", PAIR_CASES, ids=[c[0] for c in PAIR_CASES])
    def test_two_masters(self, case, pair, tmp_path: Path) -> None:
        """Node B takes the VIP while A holds it exactly when lint reports the pair."""
        from kakit.lint import lint, read

        _name, extra_a, extra_b, auth_b, both = case
        processes = []
        tmp_path.chmod(0o755)
        try:
            for ns, dev, priority, extra, auth, tag in (
                (pair[0], "ka", 150, extra_a, "secret", "a"),
                (pair[1], "kb", 100, extra_b, auth_b, "b"),
            ):
                config = tmp_path / f"{tag}.conf"
                config.write_text(pair_conf(dev, priority, extra, auth))
                processes.append(
                    subprocess.Popen(
                        keepalived_argv(ns, config, tag),
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                    )
                )
            deadline = time.monotonic() + 20
            while not holds_vip(pair[0], "ka"):
                assert time.monotonic() < deadline, "node A never became MASTER"
                time.sleep(0.2)
            # B's master-down timer is 3 x advert_int (1 s) + skew: 6 s is twice that.
            deadline = time.monotonic() + 6
            while time.monotonic() < deadline and not holds_vip(pair[1], "kb"):
                time.sleep(0.2)
            two_masters = holds_vip(pair[0], "ka") and holds_vip(pair[1], "kb")
        finally:
            for process in processes:
                process.terminate()
                process.wait(timeout=15)
        found = {
            f.rule for f in lint(read(str(tmp_path / "a.conf")), read(str(tmp_path / "b.conf")))
        }
        assert two_masters == both
        assert bool(found & {"pair-mismatch", "pair-unicast"}) == both
