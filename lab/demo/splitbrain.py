"""The demo's split-brain act: VRRP blocked between the nodes, both MASTER, kakit notices.

Each node watches for another host answering ARP for the VIP it holds (a ``split-brain`` check
run by ``kacheck --watch``, alerting through the node's outbox to the sink). Dropping IP protocol
112 on both nodes (in the raw table, ahead of kakit's own firewall rules, which accept VRRP on
MASTER) makes the backup take the VIP too; both nodes alert the split, naming each other, and
``kakit vrrp listen`` on the master shows both advertising. Allowing VRRP again ends the split:
the backup gives the VIP back and both nodes alert that it is over.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

from lab.demo.narration import DemoFailure, Narrator
from lab.demo.watch import ALERT_TIMEOUT, VIP_TIMEOUT, holder_names, wait_for_holder
from lab.procs import wait_until

if TYPE_CHECKING:
    from lab.demo.acts import Pair
    from lab.demo.preflight import Tools
    from lab.node import Node

SPLIT_CHECK = "split"
DROP = ["iptables", "-t", "raw", "-I", "PREROUTING", "-p", "112", "-j", "DROP"]
ALLOW = ["iptables", "-t", "raw", "-D", "PREROUTING", "-p", "112", "-j", "DROP"]
LISTEN_SECONDS = 5.0
"""How long ``kakit vrrp listen`` listens on the master: two advert intervals of overlap, and
a margin for the first adverts."""


def add_split_check(node: Node, peer: Node) -> Path:
    """Add the ``split`` check (naming ``peer``) to the node's kakit.yaml; return the file."""
    config = node.dir / "kakit.yaml"
    text = config.read_text()
    check = f"  {SPLIT_CHECK}: {{type: split-brain, peers: {{{peer.name}: {peer.address}}}}}\n"
    config.write_text(text.replace("checks:\n", "checks:\n" + check, 1))
    return config


def split_alerts(pair: Pair, since: int, event: str) -> set[str]:
    """The nodes whose ``event`` alert reached the sink since ``since``."""
    pair.alerts.poll()
    return {
        str(body.get("node"))
        for body in pair.alerts.bodies[since:]
        if body.get("event") == event or event in (body.get("sequence") or [])
    }


def wait_for_split_alerts(pair: Pair, since: int, event: str, nodes: list[Node]) -> None:
    """Wait for every node's ``event`` alert at the sink.

    Raises:
        DemoFailure: One did not arrive within `ALERT_TIMEOUT`.
    """
    names = {node.name for node in nodes}
    try:
        wait_until(
            lambda: names <= split_alerts(pair, since, event),
            timeout=ALERT_TIMEOUT,
            interval=0.1,
            what=f"{event} alerts",
        )
    except TimeoutError as exc:
        got = ", ".join(sorted(split_alerts(pair, since, event))) or "no node"
        raise DemoFailure(
            f"{event} alerts did not arrive from both nodes within {ALERT_TIMEOUT:g} s "
            f"(from {got}; each node's kakit.log says why)"
        ) from exc


def step_split_brain(pair: Pair, say: Narrator, *, tools: Tools) -> None:
    """Block VRRP between the nodes; both alert the split; allow it; both alert its end."""
    lab, master, backup = pair.lab, pair.master, pair.backup
    kacheck = tools.kacheck
    kakit = str(Path(kacheck).with_name("kakit"))
    watchers = []
    for node, peer in ((master, backup), (backup, master)):
        config = add_split_check(node, peer)
        watchers.append(
            node.popen(
                [kacheck, "-c", str(config), "--watch", SPLIT_CHECK,
                 "--track-file", str(node.dir / "split.track")],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        )  # fmt: skip
    say.say(
        f"split brain: each node runs `kacheck --watch {SPLIT_CHECK}` (type split-brain): while it "
        "holds the VIP it sends ARP probes for it; an answer from another MAC is a second holder"
    )
    since = len(pair.alerts.bodies)
    for node in (master, backup):
        node.run(DROP, timeout=10)
    say.say("both nodes' firewalls now drop VRRP (IP protocol 112); ARP still passes")
    try:
        lab.wait_until(
            lambda: lab.holders(lab.vip) == [master, backup], timeout=VIP_TIMEOUT, interval=0.2
        )
    except TimeoutError as exc:
        raise DemoFailure(
            f"split brain: {backup.name} did not take {lab.vip} too within {VIP_TIMEOUT:g} s "
            f"(held by {holder_names(lab)})"
        ) from exc
    say.say(f"VIP {lab.vip} is on {holder_names(lab)}: both are MASTER")
    listen = master.run(
        [kakit, "vrrp", "listen", "eth0", "--once", "--duration", f"{LISTEN_SECONDS:g}"],
        timeout=LISTEN_SECONDS + 20,
    )
    say.show(f"{master.name} kakit vrrp listen", listen.stdout.splitlines())
    if listen.returncode != 1 or "two masters" not in listen.stdout:
        raise DemoFailure(f"kakit vrrp listen did not find two masters: {listen.stderr.strip()}")
    wait_for_split_alerts(pair, since, "split_brain", [master, backup])
    say.say("both nodes alerted the split brain, each naming the other's MAC address")

    since = len(pair.alerts.bodies)
    for node in (master, backup):
        node.run(ALLOW, timeout=10)
    say.say("VRRP allowed again")
    wait_for_holder(lab, master, "end of the split")
    say.say(f"VIP {lab.vip} is on {holder_names(lab)} alone again")
    wait_for_split_alerts(pair, since, "split_brain_over", [master, backup])
    say.say("both nodes alerted that the split is over")
    for watcher in watchers:
        watcher.terminate()
        watcher.wait(timeout=10)
