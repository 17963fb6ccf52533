"""The demo's acts, in order: start the pair, kill nginx, break it, repair it, split brain."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from lab.demo.narration import DemoFailure, LogTail, Narrator, notable, wait_for_line
from lab.demo.nodes import (
    BACKUP_PRIORITY,
    CHECK,
    MASTER_PRIORITY,
    SINK_PORT,
    SINK_URL,
    Alerting,
    KakitFiles,
    configure_node,
)
from lab.demo.preflight import Tools
from lab.demo.splitbrain import step_split_brain
from lab.demo.watch import (
    ALERT_TIMEOUT,
    AlertFeed,
    holder_names,
    kakit_rules,
    start_sink,
    wait_for_holder,
    wait_for_rules,
)
from lab.lab import Lab
from lab.node import Node

LOG_TIMEOUT = 15.0
"""Seconds to wait for an expected kacheck log line (kacheck runs every second)."""


@dataclass
class Pair:
    """The demo's two nodes, the master's kakit files and the alerts the sink received."""

    lab: Lab
    master: Node
    backup: Node
    files: KakitFiles
    alerts: AlertFeed
    notes: list[str] = field(default_factory=list)
    """Things that did not happen but do not fail the demo, for the summary."""


def show_rules(say: Narrator, node: Node, rules: list[str]) -> None:
    """Print a node's kakit firewall rules under the current step."""
    say.show(f"{node.name} iptables", rules or ["(no kakit rules)"])


def step_start(lab: Lab, tools: Tools, say: Narrator) -> Pair:
    """Start the sink, configure both nodes, start nginx and keepalived, wait for the VIP."""
    master, backup = lab.nodes
    received = start_sink(lab)
    gateway = lab.gateway
    assert gateway is not None  # start_sink checked
    alerts = AlertFeed(LogTail(received), say)
    say.say(
        f"{gateway.name} ({gateway.address}): webhook sink on :{SINK_PORT} appends alerts to {received}"
    )
    alerting = Alerting(tools.kanotify)
    files = configure_node(master, MASTER_PRIORITY, tools.kacheck, vip=lab.vip, alerting=alerting)
    configure_node(backup, BACKUP_PRIORITY, tools.kacheck, vip=lab.vip, alerting=alerting)
    say.say(f"kacheck: {tools.kacheck}; each node tracks `kacheck -c <node>/kakit.yaml {CHECK}`")
    say.say(
        f"kanotify: {tools.kanotify}; keepalived runs `kanotify -c <node>/kakit.yaml` on every "
        "state change: MASTER gets ip_nonlocal_bind=1 and kakit's firewall rules, every change "
        f"is alerted to {SINK_URL}"
    )
    for node, priority in ((master, MASTER_PRIORITY), (backup, BACKUP_PRIORITY)):
        node.start_nginx()
        node.start_keepalived()
        say.say(f"{node.name} ({node.address}, priority {priority}): nginx and keepalived started")
    wait_for_holder(lab, master, "startup")
    say.say(f"VIP {lab.vip} is on {holder_names(lab)}; alerts at the sink:")
    alerts.require([(master.name, "MASTER"), (backup.name, "BACKUP")], 0, ALERT_TIMEOUT)
    rules = wait_for_rules(master, [backup], "startup")
    say.say(f"kakit's firewall rules (`iptables -S`, tagged kakit:) are on {master.name} only")
    show_rules(say, master, rules)
    return Pair(lab, master, backup, files, alerts)


def state_changes(lines: list[str]) -> list[str]:
    """Keep the keepalived log lines about VRRP state changes and track-script failures."""
    return [line for line in lines if "Entering" in line or "now returning" in line]


def step_kill(pair: Pair, say: Narrator) -> None:
    """Kill nginx on the master; kacheck restarts it and the VIP stays."""
    lab, master = pair.lab, pair.master
    tail = LogTail(pair.files.log)
    keepalived_tail = LogTail(master.keepalived_log)
    say.say(f"killing every nginx process on {master.name} (config still valid)")
    master.stop_nginx()
    elsewhere: list[str] = []

    def watch_vip() -> None:
        if lab.holders(lab.vip) != [master]:
            elsewhere.append(holder_names(lab))

    seen: list[str] = []
    wait_for_line(tail, "restarted with", LOG_TIMEOUT, seen, on_poll=watch_vip)
    say.show(f"{master.name} kakit.log", notable(seen))
    if not master.nginx_running():
        raise DemoFailure(f"kacheck logged a restart but nginx is not running on {master.name}")
    watch_vip()
    changes = state_changes(keepalived_tail.new_lines())
    if elsewhere or changes:
        seen_on = f"seen on {elsewhere[0]}" if elsewhere else changes[0]
        raise DemoFailure(f"the VIP left {master.name} while nginx was restarted ({seen_on})")
    pair.alerts.poll()
    say.say(
        f"nginx runs again on {master.name}; keepalived saw no failure and "
        f"VIP {lab.vip} stayed on {holder_names(lab)}"
    )


def step_break(pair: Pair, say: Narrator) -> None:
    """Break nginx on the master; the VIP, kakit's rules and alerts move to the backup."""
    lab, master, backup = pair.lab, pair.master, pair.backup
    tail = LogTail(pair.files.log)
    master_tail, backup_tail = LogTail(master.keepalived_log), LogTail(backup.keepalived_log)
    pair.alerts.poll()
    since = len(pair.alerts.bodies)
    say.say(f"breaking nginx on {master.name}: invalid nginx.conf, processes killed")
    master.break_nginx()
    seen: list[str] = []
    wait_for_line(tail, "config test", LOG_TIMEOUT, seen)
    say.show(f"{master.name} kakit.log", notable(seen))
    wait_for_holder(lab, backup, "failover")
    say.show(f"{master.name} keepalived.log", state_changes(master_tail.new_lines()))
    say.show(f"{backup.name} keepalived.log", state_changes(backup_tail.new_lines()))
    say.say(f"VIP {lab.vip} moved to {holder_names(lab)}; alerts at the sink:")
    pair.alerts.require([(backup.name, "MASTER"), (master.name, "FAULT")], since, ALERT_TIMEOUT)
    rules = wait_for_rules(backup, [master], "failover")
    say.say(f"kakit's firewall rules moved with MASTER: on {backup.name}, gone from {master.name}")
    show_rules(say, backup, rules)
    show_rules(say, master, [])
    say.say(
        f"kacheck on {master.name} does not restart nginx while its configuration fails the "
        f"test (and spends no restart on it); {master.name} stays in FAULT"
    )


def step_repair(pair: Pair, say: Narrator) -> None:
    """Repair and start nginx on the master; kacheck passes and the VIP comes back."""
    lab, master, backup = pair.lab, pair.master, pair.backup
    tail = LogTail(pair.files.log)
    keepalived_tail = LogTail(master.keepalived_log)
    pair.alerts.poll()
    since = len(pair.alerts.bodies)
    say.say(f"operator repairs nginx.conf on {master.name} and starts nginx")
    master.repair_nginx()
    master.start_nginx()
    passed = wait_for_line(tail, f"{CHECK}: OK:", LOG_TIMEOUT, [])
    say.show(f"{master.name} kakit.log", [passed])
    wait_for_holder(lab, master, "failback")
    say.show(f"{master.name} keepalived.log", state_changes(keepalived_tail.new_lines()))
    say.say(
        f"VIP {lab.vip} is back on {holder_names(lab)} (preemption, no action on kacheck); "
        "alerts at the sink:"
    )
    # Not a success criterion: the failover already proved the path; a late one is only noted.
    absent = pair.alerts.wait_for(
        [(master.name, "MASTER"), (backup.name, "BACKUP")], since, ALERT_TIMEOUT
    )
    if absent:
        note = f"{' and '.join(absent)} had not reached the sink after {ALERT_TIMEOUT:g} s"
        pair.notes.append(note)
        say.say(note)
    master_rules, backup_rules = kakit_rules(master), kakit_rules(backup)
    if master_rules and not backup_rules:
        say.say(f"kakit's firewall rules are back on {master.name} alone")
    else:
        note = f"kakit's firewall rules are on {master.name}: {len(master_rules)}, {backup.name}: {len(backup_rules)}"
        pair.notes.append(note)
        say.say(note)


def run_steps(lab: Lab, tools: Tools, say: Narrator) -> Pair:
    """Run every step in order; the first that fails raises DemoFailure.

    Returns:
        The pair, with the alerts the sink received and any notes.
    """
    pair = step_start(lab, tools, say)
    steps: list[Callable[[Pair, Narrator], None]] = [step_kill, step_break, step_repair]
    for step in steps:
        step(pair, say)
    step_split_brain(pair, tools, say)
    say.say("tearing the lab down")
    return pair
