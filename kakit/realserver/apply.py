"""``kakit realserver up|down|status``: put an LVS-DR real server's setup in place and undo it.

``up`` sets the ARP sysctls first and adds the VIPs after them: the other order would leave a
moment in which the node answers ARP for a VIP it just took, and a router that learns its MAC
then sends the whole service to this one real server. ``down`` goes the other way round, and
restores the sysctls only once no VIP it put in place is left (one still on ``lo`` with the old
ARP behaviour would be answered for).

Before changing anything, ``up`` records in a state file what it found: each sysctl's value,
and which VIPs it added (a VIP already on ``lo`` is not its to remove). A second ``up`` keeps
the first record, so ``down`` restores the values found before the first one. The file lives in
kakit's state directory, which is volatile on purpose: after a reboot the kernel's values are
the boot's own and the record of the previous boot would be wrong.
"""

from __future__ import annotations

import _socket
import os

from kakit.core.record import frozen
from kakit.exceptions import KakitError, StateError, UsageError
from kakit.hooks.sysctl import SYSCTL_ROOT, normalize, read_sysctl, reason, set_sysctl
from kakit.realserver import ARP_SETTINGS, DEFAULT_INTERFACES, HOLDER, parse_interface, parse_vip

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from kakit.core.netlink import Address

STATE_NAME = "realserver.json"
"""The state file's name in the state directory."""

MAX_VALUE = 64
"""Longest sysctl value accepted from the state file (the ARP keys hold one digit)."""


@frozen
class Plan:
    """What to put in place, check or undo.

    Attributes:
        vips: The VIPs (canonical text, :func:`kakit.realserver.parse_vip`).
        interfaces: Where the ARP sysctls are set.
    """

    vips: tuple[str, ...]
    interfaces: tuple[str, ...] = DEFAULT_INTERFACES


@frozen
class Finding:
    """One thing ``status`` looked at.

    Attributes:
        ok: It is as a real server needs it.
        text: What was seen (``net.ipv4.conf.all.arp_ignore is 0, not 1``).
    """

    ok: bool
    text: str


class Kernel:
    """The addresses and sysctls ``up`` and ``down`` change (tests give a fake).

    Args:
        sysctl_root: The sysctl tree (tests point it at a directory).
    """

    def __init__(self, sysctl_root: str = SYSCTL_ROOT) -> None:
        self.sysctl_root = sysctl_root

    def addresses(self) -> list[Address]:
        """Every address of this network namespace.

        Raises:
            KakitError: The kernel could not be asked.
        """
        from kakit.core import netlink

        try:
            return netlink.addresses()
        except OSError as exc:
            raise KakitError(f"cannot list the addresses: {exc.strerror or exc}") from exc

    def change(self, add: bool, address: str) -> None:
        """Add or remove ``address`` as a host address on ``lo``.

        Raises:
            KakitError: The kernel refused (not root, most often).
        """
        from kakit.core import netlink

        try:
            netlink.change(add, HOLDER, address)
        except OSError as exc:
            verb = "add" if add else "remove"
            raise KakitError(f"cannot {verb} {address} on {HOLDER}: {exc.strerror or exc}") from exc

    def sysctl(self, interface: str, key: str) -> str:
        """The file of ``net.ipv4.conf.<interface>.<key>`` (built directly: an interface name
        may hold a dot, which the dotted notation would turn into a directory)."""
        return f"{self.sysctl_root}/net/ipv4/conf/{interface}/{key}"


def label(interface: str, key: str) -> str:
    """``net.ipv4.conf.all.arp_ignore``: how messages name a key."""
    return f"net.ipv4.conf.{interface}.{key}"


def host_prefix(address: str) -> int:
    """32 for IPv4, 128 for IPv6."""
    return 128 if ":" in address else 32


def _same(one: str, other: str) -> bool:
    """Whether two addresses are the same (texts may differ: ``::ffff:...`` forms, zeros)."""
    family_one = _socket.AF_INET6 if ":" in one else _socket.AF_INET
    family_other = _socket.AF_INET6 if ":" in other else _socket.AF_INET
    if family_one != family_other:
        return False
    try:
        return _socket.inet_pton(family_one, one) == _socket.inet_pton(family_other, other)
    except OSError:
        return False


def _misplaced(vip: str, held: list[Address]) -> list[str]:
    """Where ``vip`` is held but should not be: on ``lo`` with a wider prefix, or elsewhere."""
    full = host_prefix(vip)
    found = []
    for item in held:
        if not _same(item.address, vip):
            continue
        if item.interface != HOLDER:
            found.append(
                f"{vip} is also on {item.interface}: this node answers ARP for it there "
                "whatever the sysctls say"
            )
        elif item.prefix != full:
            found.append(
                f"{vip} is on {HOLDER} as /{item.prefix}, not /{full} (every address of that "
                "subnet is local to this node)"
            )
    return found


def vip_findings(vip: str, held: list[Address]) -> list[Finding]:
    """Whether ``vip`` is on ``lo`` as a host address, and nowhere else."""
    full = host_prefix(vip)
    on_lo = any(
        item.interface == HOLDER and item.prefix == full and _same(item.address, vip)
        for item in held
    )
    found = [
        Finding(ok=True, text=f"{vip}/{full} on {HOLDER}")
        if on_lo
        else Finding(ok=False, text=f"{vip} is not on {HOLDER}")
    ]
    return found + [Finding(ok=False, text=text) for text in _misplaced(vip, held)]


def status(plan: Plan, kernel: Kernel) -> list[Finding]:
    """What is and is not in place: each sysctl of ``plan.interfaces``, then each VIP.

    Raises:
        KakitError: The addresses could not be listed.
    """
    found = []
    for interface in plan.interfaces:
        for key, wanted in ARP_SETTINGS:
            path = kernel.sysctl(interface, key)
            name = label(interface, key)
            try:
                now = normalize(read_sysctl(path))
            except OSError as exc:
                found.append(Finding(ok=False, text=f"{name} unreadable: {reason(exc, path)}"))
                continue
            text = f"{name} is {now}" + ("" if now == wanted else f", not {wanted}")
            found.append(Finding(ok=now == wanted, text=text))
    held = kernel.addresses()
    for vip in plan.vips:
        found += vip_findings(vip, held)
    return found


# --- the state file ---------------------------------------------------------------------------


class State:
    """What ``up`` found and did, kept until ``down`` has undone it.

    Attributes:
        sysctls: ``{(interface, key): (found, set)}``: the value before the first ``up`` and
            the value it wrote.
        vips: ``{vip: added}``: False for a VIP that was on ``lo`` before ``up``.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.sysctls: dict[tuple[str, str], tuple[str, str]] = {}
        self.vips: dict[str, bool] = {}

    @classmethod
    def load(cls, path: str) -> State:
        """Read the state file (an empty state when there is none).

        Running as root, a file that anyone but root could have written is refused: root writes
        its values into the kernel.

        Raises:
            ConfigError: Running as root and the file or a directory above it is not root's.
            StateError: Unreadable or malformed.
        """
        from kakit.core.fsutil import read_text
        from kakit.core.smalljson import loads
        from kakit.core.trust import require_safe

        state = cls(path)
        text = read_text(path)
        if text is None:
            return state
        require_safe(path, "realserver state file")
        try:
            data = loads(text)
            for item in data["sysctls"]:
                interface = parse_interface(_text(item["interface"]))
                key = _text(item["key"])
                if key not in dict(ARP_SETTINGS):
                    raise ValueError(f"unknown key {key!r}")
                state.sysctls[(interface, key)] = (_text(item["found"]), _text(item["set"]))
            for vip, added in data["vips"].items():
                if not isinstance(added, bool):
                    raise ValueError(f"{vip}: added is not true or false")
                state.vips[parse_vip(vip)] = added
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise StateError(
                f"{path}: not a realserver state file ({exc}); check the ARP sysctls and the "
                f"VIPs on {HOLDER} by hand, then remove it"
            ) from None
        return state

    def save(self) -> None:
        """Write the file atomically, readable by root only (or remove it when empty).

        Raises:
            StateError: It could not be written.
        """
        from kakit.core.fsutil import atomic_write, ensure_dir
        from kakit.core.smalljson import dumps

        if not self.sysctls and not self.vips:
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass
            except OSError as exc:
                raise StateError(f"cannot remove {self.path}: {exc.strerror or exc}") from exc
            return
        ensure_dir(os.path.dirname(self.path), 0o755)
        data = {
            "sysctls": [
                {"interface": interface, "key": key, "found": found, "set": value}
                for (interface, key), (found, value) in self.sysctls.items()
            ],
            "vips": self.vips,
        }
        atomic_write(self.path, dumps(data) + "\n", 0o600)


def _text(value: Any) -> str:
    if not isinstance(value, str) or len(value) > MAX_VALUE or not value.isprintable():
        raise ValueError(f"{value!r} is not a short single-line text")
    return value


def state_path(state_dir: str) -> str:
    """Where the state file is."""
    return os.path.join(state_dir, STATE_NAME)


def _locked(state_dir: str) -> Any:
    """The lock that keeps two ``up``/``down`` runs (the unit, an operator) apart."""
    from kakit.core.fsutil import ensure_dir
    from kakit.core.locks import FileLock

    ensure_dir(state_dir, 0o755)
    lock = FileLock(os.path.join(state_dir, "realserver.lock"))
    if not lock.acquire(10.0):
        raise StateError(f"another kakit realserver holds {lock.path} (waited 10 s)")
    return lock


# --- up and down ------------------------------------------------------------------------------


def up(plan: Plan, state_dir: str, kernel: Kernel) -> list[str]:
    """Put the plan in place; what was done, one line each.

    Nothing is changed when a VIP sits anywhere but on ``lo`` as a host address, or when an
    interface has no ARP sysctls: both are reported first, in one error.

    Raises:
        UsageError: An interface does not exist (exit 2).
        KakitError: A VIP is held elsewhere, or the kernel refused a change.
    """
    lock = _locked(state_dir)
    try:
        state = State.load(state_path(state_dir))
        held = kernel.addresses()
        problems = [text for vip in plan.vips for text in _misplaced(vip, held)]
        if problems:
            raise KakitError("; ".join(problems) + ": nothing changed")
        current = _read_all(plan.interfaces, kernel)
        for (interface, key), now in current.items():
            wanted = dict(ARP_SETTINGS)[key]
            # The first up's record stays: a second up finds its own values.
            state.sysctls.setdefault((interface, key), (now, wanted))
        missing = [vip for vip in plan.vips if not _on_lo(vip, held)]
        for vip in plan.vips:
            # Added once means ours to remove, even if someone took it away meanwhile.
            state.vips[vip] = state.vips.get(vip, False) or vip in missing
        state.save()  # before the kernel: a crash half-way still leaves down its record
        done = []
        for (interface, key), now in current.items():
            wanted = dict(ARP_SETTINGS)[key]
            name = label(interface, key)
            if set_sysctl(name, kernel.sysctl(interface, key), wanted):
                done.append(f"{name}: {now} -> {wanted}")
            else:
                done.append(f"{name}: already {wanted}")
        for vip in plan.vips:
            if vip in missing:
                kernel.change(True, vip)
                done.append(f"{vip}/{host_prefix(vip)} added to {HOLDER}")
            else:
                done.append(f"{vip}/{host_prefix(vip)} already on {HOLDER}")
        return done
    finally:
        lock.release()


def _on_lo(vip: str, held: list[Address]) -> bool:
    return any(item.interface == HOLDER and _same(item.address, vip) for item in held)


def _read_all(interfaces: tuple[str, ...], kernel: Kernel) -> dict[tuple[str, str], str]:
    """Every ARP sysctl's value now, by (interface, key).

    Raises:
        UsageError: An interface has no ``net.ipv4.conf`` directory: it does not exist.
    """
    import errno

    values = {}
    for interface in interfaces:
        for key, _wanted in ARP_SETTINGS:
            path = kernel.sysctl(interface, key)
            try:
                values[(interface, key)] = normalize(read_sysctl(path))
            except OSError as exc:
                if exc.errno == errno.ENOENT:
                    raise UsageError(
                        f"no interface {interface!r} ({os.path.dirname(path)} does not exist)"
                    ) from None
                raise KakitError(f"{label(interface, key)}: {reason(exc, path)}") from exc
    return values


def down(vips: tuple[str, ...], state_dir: str, kernel: Kernel) -> list[str]:
    """Remove the VIPs ``up`` added (all it recorded when ``vips`` is empty), and once none is
    left, restore each sysctl to the value ``up`` found; what was done, one line each.

    A sysctl someone changed after ``up`` (it no longer holds what ``up`` wrote) is left as
    it is, and said so: restoring it would undo their change, not ours.

    Raises:
        KakitError: The kernel refused a change.
    """
    lock = _locked(state_dir)
    try:
        state = State.load(state_path(state_dir))
        held = kernel.addresses()
        done = []
        for vip in vips or tuple(state.vips):
            added = state.vips.get(vip)
            full = f"{vip}/{host_prefix(vip)}"
            if added is None:
                done.append(f"{full}: not put in place by kakit realserver up, left alone")
                continue
            if not added:
                done.append(f"{full}: was on {HOLDER} before up, left there")
            elif _on_lo(vip, held):
                kernel.change(False, vip)
                done.append(f"{full} removed from {HOLDER}")
            else:
                done.append(f"{full}: already gone from {HOLDER}")
            del state.vips[vip]
            state.save()
        if state.vips:
            kept = ", ".join(state.vips)
            done.append(f"ARP sysctls kept: {kept} still in place (down them to restore)")
            return done
        for (interface, key), (found, wrote) in list(state.sysctls.items()):
            name = label(interface, key)
            path = kernel.sysctl(interface, key)
            try:
                now = normalize(read_sysctl(path))
            except OSError as exc:
                done.append(f"{name}: not restored: {reason(exc, path)}")
            else:
                if now == found:
                    done.append(f"{name}: already {found}")
                elif now == wrote:
                    set_sysctl(name, path, found)
                    done.append(f"{name}: {now} -> {found} (restored)")
                else:
                    done.append(f"{name}: left at {now} (changed since up, which set {wrote})")
            del state.sysctls[(interface, key)]
            state.save()
        if not done:
            done.append("nothing to undo (no record of kakit realserver up)")
        return done
    finally:
        lock.release()
