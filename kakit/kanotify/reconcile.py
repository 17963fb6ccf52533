"""Reconcile: make the node match the hooks of the state applied last, whatever happened since.

Events are hints; the node's own state is the truth to converge on. Someone's ``iptables -F``,
a sysctl reset by a package upgrade, or an event keepalived never wrote (its FIFO is recreated
at every reload, docs/kanotify.md) all leave the node out of step with its VRRP state. The FIFO
reader calls :func:`reconcile` at start and every ``fifo.reconcile`` seconds (default 30). It asks each hook
that can tell (sysctl, firewall) whether the node still holds what the state applied last set,
and applies that state again when not.
"""

from __future__ import annotations

from kakit.core.events import StateEvent, boot_id
from kakit.core.log import logger
from kakit.kanotify.applied import AppliedStates
from kakit.kanotify.handle import handle_event, notify_lock, run_hooks

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from kakit.config import Config

#: Seconds a reconcile waits for the notify lock before leaving the round to the next one.
LOCK_WAIT = 1.0


def reconcile(config: Config, *, wait: float = LOCK_WAIT) -> list[str] | None:
    """Check the node against the state applied last; apply that state again on drift.

    Returns:
        The drift found and corrected (one line per hook), ``[]`` when the node matched or
        nothing was applied yet, None when the notify lock stayed busy (an event is being
        applied: its own hooks are the freshest truth).
    """
    from kakit.hooks import build_plan

    plan = build_plan(config)
    if plan is None:
        return []
    lock = notify_lock(config, wait)
    if lock is None:
        return None
    try:
        applied = AppliedStates(config.paths.state_dir).newest(boot_id())
        if applied is None:
            return []
        drift = plan.drift(applied.state)
        if not drift:
            return []
        outcomes = run_hooks(config, applied, applied.state, applied.state)
    finally:
        lock.release()
    done = "; ".join(outcome.summary for outcome in outcomes)
    log = logger.error if any(not outcome.ok for outcome in outcomes) else logger.warning
    log(f"drift from {applied.label()} {applied.state} corrected: {'; '.join(drift)} -> {done}")
    return drift


#: Seconds after an applied change before the kernel's addresses are held against it:
#: keepalived adds and removes the addresses just after it reports the change.
SETTLE = 5.0


def node_addresses() -> set[str]:
    """Every address on this network namespace's interfaces (``ip -o addr show``).

    Raises:
        KakitError: ``ip`` is missing, untrusted, or failed: the kernel cannot be asked, so
            nothing is held against the applied state.
    """
    import subprocess

    from kakit.core.programs import child_environment, find_program
    from kakit.core.trust import why_untrusted
    from kakit.exceptions import KakitError

    program = find_program("ip")
    problem = "not installed" if program is None else why_untrusted(program)
    if program is None or problem:
        raise KakitError(f"cannot list the node's addresses: ip: {problem}")
    try:
        listing = subprocess.run(
            [program, "-o", "addr", "show"],
            env=child_environment(),
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        raise KakitError(f"cannot list the node's addresses: {exc}") from exc
    found = set()
    for line in listing.splitlines():
        words = line.split()
        for index, word in enumerate(words[:-1]):
            if word in ("inet", "inet6"):
                found.add(words[index + 1].split("/")[0])
    return found


def kernel_truth(
    config: Config,
    held: Callable[[], set[str]] = node_addresses,
    *,
    names: tuple[str, ...] | None = None,
    settle: float = SETTLE,
) -> list[StateEvent]:
    """The instances whose applied state the kernel contradicts, as the events to apply.

    MASTER holds an instance's virtual addresses (keepalived.conf's ``virtual_ipaddress``) and no
    other state does. An instance applied as MASTER whose addresses are all gone is taken as
    BACKUP; one applied as anything else whose addresses are all here, as MASTER. Instances
    whose addresses kakit does not know, or whose change is younger than ``settle`` seconds,
    are left alone.

    Args:
        config: The loaded configuration.
        held: The addresses the node holds (the kernel, through ``ip``).
        names: Only these instances (None: every instance of keepalived.conf).
        settle: Seconds a change is left alone before the kernel is held against it.
    """
    import time

    from kakit.core.events import received_now
    from kakit.keepalived.conf import load, vrrp_instances

    instances = vrrp_instances(load(config.keepalived.config))
    if not instances:
        return []
    memory = AppliedStates(config.paths.state_dir)
    if names is not None and not any(name in instances for name in names):
        return []  # the kernel is not asked about an instance whose addresses are unknown
    here = held()
    now = time.clock_gettime(time.CLOCK_BOOTTIME)
    found = []
    for name, instance in instances.items():
        if names is not None and name not in names:
            continue
        wanted = {address.split("/")[0] for address in instance.addresses}
        applied = memory.read("INSTANCE", name)
        if not wanted or applied is None or applied.boot != boot_id():
            continue
        if now - applied.mono < settle:
            continue
        holds = wanted <= here
        if applied.state == "MASTER" and not wanted & here:
            truth = "BACKUP"
        elif applied.state != "MASTER" and holds:
            truth = "MASTER"
        else:
            continue
        logger.warning(
            f"{name}: {applied.state} was applied, but the kernel holds "
            f"{'all' if holds else 'none'} of its addresses ({', '.join(sorted(wanted))}): "
            f"applying {truth}"
        )
        found.append(
            StateEvent(
                kind="INSTANCE",
                name=name,
                state=truth,  # type: ignore[arg-type]
                priority=applied.priority,
                **received_now(),  # type: ignore[arg-type]
            )
        )
    return found


def converge(
    config: Config,
    *,
    names: tuple[str, ...] | None = None,
    settle: float = SETTLE,
    start_worker: bool = False,
) -> list[StateEvent]:
    """Apply (record, hook, alert) what the kernel says where it contradicts the applied state.

    Args:
        config: The loaded configuration.
        names: Only these instances (:func:`kernel_truth`).
        settle: Seconds a change is left alone (:func:`kernel_truth`).
        start_worker: Start a detached delivery worker for the alerts (the notify-script path;
            the reader delivers in its own process).
    """
    events = kernel_truth(config, names=names, settle=settle)
    for event in events:
        handle_event(config, event, start_worker=start_worker)
    return events


#: The states a notify script's cross-check holds against the kernel. keepalived adds or
#: removes the addresses before it forks the notify of MASTER, BACKUP and FAULT; at STOP and
#: DELETED it is going away, and removes them as it goes.
CROSS_CHECKED = ("MASTER", "BACKUP", "FAULT")


def cross_check(config: Config, event: StateEvent) -> list[StateEvent]:
    """kanotify as a notify script: hold the instance's applied state against the kernel now.

    keepalived forks notify scripts unordered, so the state applied by this one may already be
    out of date: the kernel, which keepalived changed before forking, says which. No settle
    time here, unlike the reader's reconcile: the addresses moved before the fork. A kernel that
    cannot be asked is logged and leaves the applied state alone.
    """
    from kakit.exceptions import KakitError

    if event.kind != "INSTANCE" or event.state not in CROSS_CHECKED:
        return []
    try:
        return converge(config, names=(event.name,), settle=0.0, start_worker=True)
    except KakitError as exc:
        logger.warning(f"{event.label()}: the kernel's addresses were not checked: {exc}")
        return []
