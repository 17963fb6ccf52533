"""The schema of ``kakit.yaml``: the top-level :class:`Config` and its small sections.

The big sections belong to their families and are read through them: ``checks`` by
:mod:`kakit.checks.spec`, ``states`` and ``hooks`` by :mod:`kakit.hooks.spec`, ``channels`` by
:mod:`kakit.config.channels`. Their converters import them on first use, so that ``kacheck``
loading a configuration never imports the hook or notifier schemas.

A :class:`Config` holds validated values only and is pickled by :mod:`kakit.config.cache`: its
fields must stay picklable (records, tuples, dicts; no functions).
"""

from __future__ import annotations

import os

from kakit.core.converters import (
    Node,
    absolute_path,
    boolean,
    build,
    choice,
    duration,
    integer,
    ip_address,
    list_of,
    optional,
    optional_path,
    optional_string,
    port,
    record,
    string,
    unknown_key_error,
)
from kakit.core.record import frozen, option
from kakit.exceptions import ConfigError, raise_collected

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

    from kakit.checks.spec import CheckSpec
    from kakit.config.channels import ChannelSpec
    from kakit.hooks.spec import HookSettings
    from kakit.kaprobe.spec import ProbeSettings, ProbeSpec
    from kakit.realserver import RealserverSettings
    from kakit.vrrp.splitbrain import SplitBrainWatch


@frozen
class Paths:
    """Where kakit keeps its files.

    Attributes:
        state_dir: Volatile state: check results, restart history, locks (tmpfs is right).
        data_dir: State that must survive a reboot: latches (and later the alert outbox).
    """

    state_dir: str = option(absolute_path, default="/run/kakit")
    data_dir: str = option(absolute_path, default="/var/lib/kakit")


@frozen
class LogSettings:
    """Where log lines go besides syslog (and stderr on a terminal), and how many there are.

    With neither a working syslog socket nor ``file``, lines go to ``<data_dir>/kakit.log``
    (:mod:`kakit.core.log`): never nowhere.

    Attributes:
        level: error, warning, info or debug.
        file: Also append lines to this file (labs and hosts without a syslog daemon).
        syslog: Send lines to the syslog socket.
        syslog_socket: The syslog datagram socket (``/dev/log``; a chroot's or a container's
            socket may live elsewhere).
        heartbeat: While a check keeps its verdict, repeat it at info at most this often
            ("still OK for 2 h (7200 runs)"); runs in between log at debug. 0 turns it off.
    """

    level: str = option(choice("error", "warning", "info", "debug"), default="info")
    file: str | None = option(optional_path, default=None)
    syslog: bool = option(boolean, default=True)
    syslog_socket: str = option(absolute_path, default="/dev/log")
    heartbeat: float = option(duration(high=7 * 86400.0, allow_zero=True), default=600.0)


def _state_list(node: Node) -> tuple[str, ...]:
    from kakit.core.events import STATES

    names = list_of(choice(*STATES))(node)
    return tuple(names)


def _event_list(node: Node) -> tuple[str, ...]:
    from kakit.core.events import ALERT_EVENTS

    names = list_of(choice(*ALERT_EVENTS))(node)
    return tuple(names)


@frozen
class AlertRoute:
    """Which events go to which channels.

    keepalived's state changes (kanotify) and every other event (kacheck's actions, LVS
    servers, priority changes) are selected by separate keys,
    ``states`` and ``events``: a route that names only one of them takes only that kind, a
    route that names neither takes both (docs/channels.md, "Which alerts go where").

    Attributes:
        channels: Channel names.
        states: States that alert (None: every state, unless only ``events`` is given).
        events: Other events that alert: kacheck's, LVS, priority, BFD, split brain (None:
            every one but ``priority``, unless only ``states`` is given).
        instances: Instance/group names that alert (default: all); a kacheck event matches when
            an instance tracking its check is listed.
        checks: Check names whose events alert (default: all; a route that names checks
            takes no event of another source).
    """

    channels: tuple[str, ...] = option(list_of(string))
    states: tuple[str, ...] | None = option(_state_list, default=None)
    events: tuple[str, ...] | None = option(_event_list, default=None)
    instances: tuple[str, ...] = option(list_of(string), default=())
    checks: tuple[str, ...] = option(list_of(string), default=())

    def matches(self, state: str, name: str) -> bool:
        """Whether a state change to ``state`` of ``name`` takes this route."""
        if self.states is None and self.events is not None:
            return False
        states = self.states
        return (states is None or state in states) and (
            not self.instances or name in self.instances
        )

    def matches_check(
        self, events: tuple[str, ...], check: str, instances: tuple[str, ...]
    ) -> bool:
        """Whether a kacheck run that did ``events`` takes this route.

        Args:
            events: What the run did (one alert covers them all).
            check: The check's name.
            instances: The instances tracking the check, where known.
        """
        return self.matches_events(events, check=check, instances=instances)

    def matches_events(
        self, events: tuple[str, ...], *, check: str = "", instances: tuple[str, ...] = ()
    ) -> bool:
        """Whether an event named in ``events`` (kacheck's, LVS, priority...) takes this route.

        A route without ``events`` takes :data:`~kakit.core.events.DEFAULT_EVENTS` (every
        name but ``priority``), unless it names only ``states``. A route that names
        ``checks`` takes only those checks' events, one that names ``instances`` only events
        of (or tracked by) those instances: an LVS event, which has neither, passes neither.

        Args:
            events: The event's names (one alert covers them all).
            check: The check concerned ("" for none).
            instances: The instances concerned, where known.
        """
        from kakit.core.events import DEFAULT_EVENTS

        if self.events is None and self.states is not None:
            return False
        wanted = DEFAULT_EVENTS if self.events is None else self.events
        return (
            any(event in wanted for event in events)
            and (not self.checks or check in self.checks)
            and (not self.instances or any(name in self.instances for name in instances))
        )


@frozen
class KeepalivedSettings:
    """Where keepalived's configuration is (read for the virtual addresses alerts name).

    Attributes:
        config: keepalived's configuration file.
    """

    config: str = option(absolute_path, default="/etc/keepalived/keepalived.conf")


def _split_brain(node: Node) -> SplitBrainWatch:
    from kakit.vrrp.splitbrain import SplitBrainWatch

    settings: SplitBrainWatch = record(SplitBrainWatch)(node)
    return settings


@frozen
class FifoSettings:
    """The notify-FIFO reader, ``kanotify --fifo`` (docs/kanotify.md, "The notify FIFO").

    Attributes:
        path: The FIFO read when keepalived does not name one (the reader as a service).
        reconcile: Seconds between two checks that the node still holds what its state set.
        metrics_address: Where the Prometheus endpoint listens (loopback by default); null for
            no endpoint.
        metrics_port: Its port.
        textfile: Also write the metrics to this file every 15 s, for node_exporter's textfile
            collector (a ``.prom`` file in its directory).
        split_brain: Watch for another host answering for this node's virtual addresses and
            alert it (:mod:`kakit.vrrp.splitbrain`); null: off.
    """

    path: str = option(absolute_path, default="/run/kakit.fifo")
    reconcile: float = option(duration(low=0.1, high=86400.0), default=30.0)
    metrics_address: str | None = option(optional(ip_address), default="127.0.0.1")
    metrics_port: int = option(port, default=9651)
    textfile: str | None = option(optional_path, default=None)
    split_brain: SplitBrainWatch | None = option(_split_brain, default=None)


@frozen
class OutboxSettings:
    """The durable outbox and its delivery policy.

    Attributes:
        path: The SQLite file (default ``<data_dir>/outbox.sqlite``).
        ttl: Give up (log and mark expired) on messages older than this.
        coalesce: Wait this long before sending, so a flap inside it becomes one message.
        backoff_initial: First retry delay; doubled per attempt, with +-25 % jitter.
        backoff_max: Longest retry delay.
    """

    path: str | None = option(optional_path, default=None)
    ttl: float = option(duration(high=30 * 86400.0), default=6 * 3600.0)
    coalesce: float = option(duration(high=600.0, allow_zero=True), default=3.0)
    backoff_initial: float = option(duration(high=3600.0), default=2.0)
    backoff_max: float = option(duration(high=86400.0), default=300.0)


def _templates(node: Node) -> dict[str, Any]:
    from kakit.alerts.messages import Templates, check_template

    result = {}
    errors: list[ConfigError] = []
    for language, child in node.mapping("a mapping of languages (en, zh) to templates").items():
        if language not in ("en", "zh"):
            errors.append(unknown_key_error(node, language, ["en", "zh"]))
            continue
        try:
            templates = build(Templates, child)
        except ConfigError as exc:
            errors.append(exc)
            continue
        for key in ("title", "text", "markdown"):
            value = getattr(templates, key)
            if value is not None:
                try:
                    check_template(value)
                except ValueError as exc:
                    errors.append(child.value[key].error(f"a template: {exc}", show_value=False))
        result[language] = templates
    raise_collected(errors)
    return result


def _checks(node: Node) -> dict[str, CheckSpec]:
    from kakit.checks.spec import checks_section

    return checks_section(node)


def _probes(node: Node) -> tuple[ProbeSpec, ...]:
    from kakit.kaprobe.spec import probes_section

    return probes_section(node)


def _probe_settings(node: Node) -> ProbeSettings:
    from kakit.kaprobe.spec import ProbeSettings

    settings: ProbeSettings = record(ProbeSettings)(node)
    return settings


def _states(node: Node) -> dict[str, dict[str, Any]]:
    from kakit.hooks.spec import states_section

    return states_section(node)


def _hook_settings(node: Node) -> HookSettings:
    from kakit.hooks.spec import HookSettings

    settings: HookSettings = record(HookSettings)(node)
    return settings


def _realserver(node: Node) -> RealserverSettings:
    from kakit.realserver import RealserverSettings

    settings: RealserverSettings = build(RealserverSettings, node)
    return settings


def _channels(node: Node) -> dict[str, ChannelSpec]:
    from kakit.config.channels import channels_section

    return channels_section(node)


@frozen
class Config:
    """The whole validated configuration.

    Attributes:
        version: The file format version (1).
        source: The file it came from, or None for built-in defaults.
        paths: State and data directories.
        log: Logging sinks.
        checks: Checks defined in the file, by name, laid over their presets and validated
            (presets the file does not mention are built by :meth:`check`).
        node: The name alerts use for this node (default: the host name).
        states: Hook options by keepalived state, then by hook name, in run order.
        hooks: The ``hooks`` section (None when absent: see :meth:`hook_settings`).
        channels: Alert channels by name.

    ``checks`` and ``channels`` are plain dicts when parsed; from the cache, mappings that
    unpickle each entry on first use (:class:`kakit.config.cache.PickledSection`).
        alerts: Which events go to which channels.
        outbox: The durable outbox and its delivery policy.
        fifo: The notify-FIFO reader.
        templates: Alert templates by language.
        keepalived: Where keepalived's configuration is.
        probes: kaprobe's BFD sessions (:mod:`kakit.kaprobe.spec`).
        kaprobe: kaprobe's metrics settings (None when absent: see :meth:`probe_settings`).
        realserver: The LVS-DR real-server setup (:mod:`kakit.realserver`), or None.
    """

    version: int = option(integer(1, 1), default=1)
    source: str | None = option(default=None, internal=True)
    paths: Paths = option(record(Paths), default=Paths())
    log: LogSettings = option(record(LogSettings), default=LogSettings())
    checks: Mapping[str, CheckSpec] = option(_checks, default={})
    node: str | None = option(optional_string, default=None)
    states: dict[str, dict[str, Any]] = option(_states, default={})
    hooks: HookSettings | None = option(_hook_settings, default=None)
    channels: Mapping[str, ChannelSpec] = option(_channels, default={})
    alerts: tuple[AlertRoute, ...] = option(list_of(record(AlertRoute)), default=())
    outbox: OutboxSettings = option(record(OutboxSettings), default=OutboxSettings())
    fifo: FifoSettings = option(record(FifoSettings), default=FifoSettings())
    templates: dict[str, Any] = option(_templates, default={})
    keepalived: KeepalivedSettings = option(
        record(KeepalivedSettings), default=KeepalivedSettings()
    )
    probes: tuple[ProbeSpec, ...] = option(_probes, default=())
    kaprobe: ProbeSettings | None = option(_probe_settings, default=None)

    def probe_settings(self) -> ProbeSettings:
        """The ``kaprobe`` section (defaults when absent)."""
        if self.kaprobe is not None:
            return self.kaprobe
        from kakit.kaprobe.spec import ProbeSettings

        return ProbeSettings()

    realserver: RealserverSettings | None = option(_realserver, default=None)

    def hook_settings(self) -> HookSettings:
        """The ``hooks`` section (defaults when absent)."""
        if self.hooks is not None:
            return self.hooks
        from kakit.hooks.spec import HookSettings

        return HookSettings()

    def node_name(self) -> str:
        """The name alerts use for this node: ``node``, else the host name."""
        return self.node or os.uname().nodename

    def outbox_path(self) -> str:
        """Where the outbox database lives."""
        return self.outbox.path or os.path.join(self.paths.data_dir, "outbox.sqlite")

    def channels_for(self, state: str, name: str) -> list[str]:
        """Channel names an event goes to, each once, in configuration order."""
        found: list[str] = []
        for route in self.alerts:
            if route.matches(state, name):
                found.extend(channel for channel in route.channels if channel not in found)
        return found

    def channels_for_check(
        self, events: tuple[str, ...], check: str, instances: tuple[str, ...] = ()
    ) -> list[str]:
        """Channel names a kacheck run that did ``events`` alerts, each once, in order."""
        return self.channels_for_events(events, check=check, instances=instances)

    def channels_for_events(
        self, events: tuple[str, ...], *, check: str = "", instances: tuple[str, ...] = ()
    ) -> list[str]:
        """Channel names an event named in ``events`` alerts (:meth:`AlertRoute.matches_events`),
        each once, in configuration order."""
        found: list[str] = []
        for route in self.alerts:
            if route.matches_events(events, check=check, instances=instances):
                found.extend(channel for channel in route.channels if channel not in found)
        return found

    def check_names(self) -> list[str]:
        """Names ``kacheck`` accepts: configured checks and built-in presets."""
        from kakit.checks.presets import presets

        return sorted({*self.checks, *presets()})

    def check(self, name: str) -> CheckSpec:
        """The named check: from the file (already laid over its preset), else the preset.

        Raises:
            ConfigError: No configured check or preset has that name.
        """
        spec = self.checks.get(name)
        if spec is None:
            from kakit.checks.spec import check_spec

            spec = check_spec(name)
        if spec is None:
            where = f" in {self.source}" if self.source else " (no configuration file)"
            known = ", ".join(self.check_names())
            raise ConfigError(f"unknown check {name!r}{where}; known checks: {known}")
        if any(probe.type == "realserver" for probe in spec.probes):
            from kakit.checks.realserver import with_section

            spec = with_section(spec, self.realserver)
        return spec
