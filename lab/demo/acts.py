"""The demo's acts, in order: start the pair, kill nginx, break it, repair it, split brain, cut
the uplink."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from lab.bfd import Kaprobe
from lab.demo.narration import DemoFailure, LogTail, Narrator, notable, wait_for_line
from lab.demo.nodes import (
    BACKUP_PRIORITY,
    CHECK,
    MASTER_PRIORITY,
    SINK_PORT,
    SINK_URL,
    TRACK_FILE,
    Alerting,
    KakitFiles,
    Vrrp,
    configure_node,
    sink_alerting_yaml,
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
from lab.procs import wait_until
from lab.vipwatch import VipWatch

LOG_TIMEOUT = 15.0
"""Seconds to wait for an expected kacheck log line (kacheck runs every second)."""

ADVERT_INT = 0.3
"""VRRPv3 advert interval of the pair: the backup takes over (256 - 100) / 256 x 0.3 s = 183 ms
after the master's priority-0 advert, and a master silent for 3 x 0.3 s + 183 ms."""

BFD_INTERVAL = "50ms"
"""kaprobe's interval on the master's uplink session (x 3: 150 ms detection time)."""

BFD_TIMEOUT = 20.0
"""Seconds to wait for the BFD session to come Up (slow start sends one packet a second)."""


@dataclass
class Pair:
    """The demo's two nodes, the master's kakit files and the alerts the sink received."""

    lab: Lab
    master: Node
    backup: Node
    files: KakitFiles
    alerts: AlertFeed
    uplink: Kaprobe
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
    timers = ("--interval", BFD_INTERVAL, "--multiplier", "3")
    uplink = Kaprobe(
        master,
        gateway.address,
        *timers,
        more_config=f"node: {master.name}\n" + sink_alerting_yaml(),
    )
    files = configure_node(
        master,
        MASTER_PRIORITY,
        tools.kacheck,
        vip=lab.vip,
        alerting=alerting,
        vrrp=Vrrp(version=3, advert_int=ADVERT_INT, track_file=uplink.track_file),
    )
    configure_node(
        backup,
        BACKUP_PRIORITY,
        tools.kacheck,
        vip=lab.vip,
        alerting=alerting,
        vrrp=Vrrp(version=3, advert_int=ADVERT_INT),
    )
    say.say(f"kacheck: {tools.kacheck}; each node tracks `kacheck -c <node>/kakit.yaml {CHECK}`")
    say.say(
        f"kanotify: {tools.kanotify}; keepalived runs `kanotify -c <node>/kakit.yaml` on every "
        "state change: MASTER gets ip_nonlocal_bind=1 and kakit's firewall rules, every change "
        f"is alerted to {SINK_URL}"
    )
    Kaprobe(gateway, master.address, *timers).start()
    uplink.start()
    say.say(
        f"kaprobe: {tools.kaprobe}; a BFD session {master.name} <-> {gateway.name} (its uplink) at "
        f"{BFD_INTERVAL} x 3; {master.name}'s keepalived tracks its track_file {TRACK_FILE} "
        "(FAULT while the session is not Up); both nodes speak VRRPv3 with advert_int "
        f"{ADVERT_INT:g}"
    )
    wait_for_session(uplink, "Up", "startup")
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
    return Pair(lab, master, backup, files, alerts, uplink)


def wait_for_session(probe: Kaprobe, state: str, what: str) -> None:
    """Wait until kaprobe's session is in ``state`` with the track file saying so.

    Raises:
        DemoFailure: Not within :data:`BFD_TIMEOUT`.
    """
    value = "0" if state == "Up" else "-254"
    try:
        wait_until(
            lambda: probe.state() == state and probe.track_value() == value,
            timeout=BFD_TIMEOUT,
            interval=0.05,
            what=what,
        )
    except TimeoutError as exc:
        raise DemoFailure(
            f"{what}: the BFD session did not reach {state} within {BFD_TIMEOUT:g} s "
            f"(it is {probe.state()}; see {probe.log})"
        ) from exc


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


def uplink_rules(action: str, address: str) -> list[list[str]]:
    """The gateway's iptables commands that cut (``-I``) or restore (``-D``) its path to
    ``address``: everything from and to it is dropped."""
    return [
        ["iptables", action, "INPUT", "-s", address, "-j", "DROP"],
        ["iptables", action, "OUTPUT", "-d", address, "-j", "DROP"],
    ]


def step_uplink(pair: Pair, say: Narrator) -> None:
    """Cut the master's uplink: BFD notices, the VIP moves in well under a second, the
    bfd_down alert reaches the sink once the uplink is back."""
    lab, master, backup, uplink = pair.lab, pair.master, pair.backup, pair.uplink
    gateway = lab.gateway
    assert gateway is not None
    pair.alerts.poll()
    since = len(pair.alerts.bodies)
    probe_tail, keepalived_tail = LogTail(uplink.log), LogTail(master.keepalived_log)
    skew = (256 - BACKUP_PRIORITY) / 256 * ADVERT_INT
    say.say(
        f"cutting {master.name}'s uplink: {gateway.name} drops everything from and to "
        f"{master.address} ({master.name} and {backup.name} still hear each other)"
    )
    watch = VipWatch(backup, lab.vip)
    try:
        cut_at = time.monotonic()
        for argv in uplink_rules("-I", master.address):
            gateway.run(argv, check=True)
        try:
            wait_until(lambda: watch.when() is not None, timeout=10, interval=0.01, what="VIP")
        except TimeoutError as exc:
            raise DemoFailure(
                f"the VIP did not reach {backup.name} within 10 s of the cut "
                f"(held by {holder_names(lab)})"
            ) from exc
        appeared = watch.when()
        assert appeared is not None
        took = appeared - cut_at
    finally:
        watch.close()
    wait_for_session(uplink, "Down", "the cut")
    say.show(f"{master.name} kaprobe", [line for line in probe_tail.new_lines() if "BFD" in line])
    say.show(f"{master.name} keepalived.log", state_changes(keepalived_tail.new_lines()))
    say.say(
        f"VIP {lab.vip} is on {backup.name} {took * 1000:.0f} ms after the cut: BFD's 150 ms "
        f"detection, the track file, keepalived's FAULT and {backup.name}'s "
        f"{skew * 1000:.0f} ms skew time"
    )
    if took >= 1.0:
        pair.notes.append(f"the VIP took {took:.2f} s to move after the uplink cut (busy machine?)")
    say.say(f"restoring {master.name}'s uplink")
    for argv in uplink_rules("-D", master.address):
        gateway.run(argv, check=True)
    wait_for_session(uplink, "Up", "the uplink restored")
    wait_for_holder(lab, master, "the uplink restored")
    say.say(
        f"BFD is Up again and VIP {lab.vip} is back on {holder_names(lab)}; {master.name}'s "
        "alerts waited in its outbox while its uplink was cut; at the sink:"
    )

    def heard(event: str) -> bool:
        pair.alerts.poll()
        return event in pair.alerts.events(since)

    try:
        wait_until(lambda: heard("bfd_down"), timeout=ALERT_TIMEOUT * 2, interval=0.1, what="")
    except TimeoutError as exc:
        raise DemoFailure(
            f"{master.name}'s bfd_down alert did not reach the webhook sink within "
            f"{ALERT_TIMEOUT * 2:g} s of the uplink's return (kaprobe logs to {uplink.log})"
        ) from exc
    try:
        wait_until(lambda: heard("bfd_up"), timeout=ALERT_TIMEOUT, interval=0.1, what="")
    except TimeoutError:
        note = f"{master.name}'s bfd_up alert had not reached the sink after {ALERT_TIMEOUT:g} s"
        pair.notes.append(note)
        say.say(note)


def run_steps(lab: Lab, tools: Tools, say: Narrator) -> Pair:
    """Run every step in order; the first that fails raises DemoFailure.

    Returns:
        The pair, with the alerts the sink received and any notes.
    """
    pair = step_start(lab, tools, say)
    steps: list[Callable[[Pair, Narrator], None]] = [
        step_kill,
        step_break,
        step_repair,
        functools.partial(step_split_brain, tools=tools),
        step_uplink,
    ]
    for step in steps:
        step(pair, say)
    say.say("tearing the lab down")
    return pair
