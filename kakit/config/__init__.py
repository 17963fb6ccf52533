"""Loading ``kakit.yaml`` into frozen settings objects, with precise errors.

Lookup order: ``-c/--config``, then ``$KAKIT_CONFIG``, then ``/etc/kakit/kakit.yaml``; with none
of them present the built-in defaults and presets apply. The file must say ``version: 1``.
Unknown keys are errors (a typo in an HA configuration silently turning a check off is worse than
a loud failure), and every error names file, line, key path, the bad value and what was
expected.

PyYAML is imported only when a file is actually read: ``kacheck nginx`` without a file must stay
inside its start-up budget.
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
    from_python,
    integer,
    list_of,
    optional,
    optional_path,
    optional_string,
    record,
    string,
    unknown_key_error,
)
from kakit.core.record import frozen, option
from kakit.exceptions import ConfigError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

DEFAULT_CONFIG_PATH = "/etc/kakit/kakit.yaml"
CONFIG_ENV = "KAKIT_CONFIG"
SUPPORTED_VERSIONS = (1,)
ON_FAILURE_CHOICES = ("fail", "stop-keepalived")
COMMON_CHECK_KEYS = ("latch", "on_failure", "deadline", "rise", "fall")


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
    """Where log lines go besides syslog (and stderr on a terminal).

    Attributes:
        level: error, warning, info or debug.
        file: Also append lines to this file (labs and hosts without a syslog daemon).
        syslog: Send lines to /dev/log.
    """

    level: str = option(choice("error", "warning", "info", "debug"), default="info")
    file: str | None = option(optional_path, default=None)
    syslog: bool = option(boolean, default=True)


@frozen
class ProbeSpec:
    """One probe of a check: its type name and validated options."""

    type: str
    options: Any


@frozen
class CheckSpec:
    """A named check as ``kacheck NAME`` runs it.

    Attributes:
        name: The name on the command line.
        probes: Probes run in order; all must pass.
        latch: Once failed, keep failing until ``kakit latch clear NAME``.
        on_failure: ``fail`` (exit 1, keepalived applies weight/FAULT) or ``stop-keepalived``.
        deadline: Upper bound for one run in seconds (None: each probe's own timeouts).
        rise: Watch mode: consecutive passes before the track file says healthy again.
        fall: Watch mode: consecutive failures before the track file says failed.
        origin: Where the check was defined (``file:line`` or ``built-in preset``).
    """

    name: str
    probes: tuple[ProbeSpec, ...]
    latch: bool = False
    on_failure: str = "fail"
    deadline: float | None = None
    rise: int = 1
    fall: int = 1
    origin: str = ""


@frozen
class ChannelSpec:
    """An alert channel: its name, type, language and validated options."""

    name: str
    type: str
    options: Any
    language: str = "en"


def _state_list(node: Node) -> tuple[str, ...]:
    from kakit.core.events import STATES

    names = list_of(choice(*STATES))(node)
    return tuple(names)


@frozen
class AlertRoute:
    """Which events go to which channels.

    Attributes:
        channels: Channel names.
        states: States that alert (default: every state).
        instances: Instance/group names that alert (default: all).
    """

    channels: tuple[str, ...] = option(list_of(string))
    states: tuple[str, ...] = option(
        _state_list, default=("MASTER", "BACKUP", "FAULT", "STOP", "DELETED")
    )
    instances: tuple[str, ...] = option(list_of(string), default=())

    def matches(self, state: str, name: str) -> bool:
        """Whether an event in ``state`` for ``name`` takes this route."""
        return state in self.states and (not self.instances or name in self.instances)


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
    for language, child in node.mapping("a mapping of languages (en, zh) to templates").items():
        if language not in ("en", "zh"):
            raise unknown_key_error(node, language, ["en", "zh"])
        templates = build(Templates, child)
        for key in ("title", "text", "markdown"):
            value = getattr(templates, key)
            if value is not None:
                try:
                    check_template(value)
                except ValueError as exc:
                    raise child.value[key].error(f"a template: {exc}", show_value=False) from None
        result[language] = templates
    return result


@frozen
class Config:
    """The whole validated configuration.

    Attributes:
        version: The file format version (1).
        source: The file it came from, or None for built-in defaults.
        paths: State and data directories.
        log: Logging sinks.
        checks: Checks defined in the file, by name (presets are resolved by :meth:`check`).
    """

    version: int = option(integer(1, 1), default=1)
    source: str | None = option(default=None, internal=True)
    paths: Paths = option(record(Paths), default=Paths())
    log: LogSettings = option(record(LogSettings), default=LogSettings())
    checks: dict[str, Node] = option(lambda node: _check_nodes(node), default={})
    node: str | None = option(optional_string, default=None)
    states: dict[str, Any] = option(lambda node: _states(node), default={})
    hooks: Any = option(lambda node: _hook_settings(node), default=None)
    channels: dict[str, ChannelSpec] = option(lambda node: _channels(node), default={})
    alerts: tuple[AlertRoute, ...] = option(list_of(record(AlertRoute)), default=())
    outbox: OutboxSettings = option(record(OutboxSettings), default=OutboxSettings())
    templates: dict[str, Any] = option(_templates, default={})

    def hook_settings(self) -> Any:
        """The ``hooks`` section (defaults when absent)."""
        if self.hooks is not None:
            return self.hooks
        from kakit.hooks.settings import HookSettings

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

    def check_names(self) -> list[str]:
        """Names ``kacheck`` accepts: configured checks and built-in presets."""
        from kakit.checks.presets import presets

        return sorted({*self.checks, *presets()})

    def check(self, name: str) -> CheckSpec:
        """The named check, with its preset applied.

        Raises:
            ConfigError: No configured check or preset has that name, or it is invalid.
        """
        from kakit.checks.presets import presets

        node = self.checks.get(name)
        preset = presets().get(name)
        if node is None and preset is None:
            where = f" in {self.source}" if self.source else " (no configuration file)"
            known = ", ".join(self.check_names())
            raise ConfigError(f"unknown check {name!r}{where}; known checks: {known}")
        if preset is not None:
            base = from_python(preset, f"<built-in preset {name}>", f"checks.{name}")
            node = base if node is None else _overlay(base, node)
        assert node is not None
        return build_check(name, node)


def _check_nodes(node: Node) -> dict[str, Node]:
    # Checks are validated as a whole at load time (so `config check` reports every typo), but
    # kept as nodes so that presets can be overlaid by name afterwards.
    if node.value is None:
        return {}
    return dict(node.mapping("a mapping of check names to check settings"))


def _states(node: Node) -> dict[str, Any]:
    from kakit.core.events import STATES
    from kakit.hooks.settings import states_section

    if node.value is None:
        return {}
    mapping = node.mapping("a mapping of keepalived states (MASTER, BACKUP, ...) to hooks")
    for key in mapping:
        if key not in STATES:
            raise unknown_key_error(node, key, list(STATES))
    return states_section(node)


def _hook_settings(node: Node) -> Any:
    from kakit.hooks.settings import HookSettings

    return build(HookSettings, node) if node.value is not None else HookSettings()


def _channels(node: Node) -> dict[str, ChannelSpec]:
    from kakit import notifiers

    if node.value is None:
        return {}
    result = {}
    for name, child in node.mapping("a mapping of channel names to channel settings").items():
        mapping = child.mapping("a mapping with a 'type' (dingtalk, email, webhook, ...)")
        type_node = mapping.get("type")
        if type_node is None:
            raise child.error(
                f"the key 'type' (one of {', '.join(notifiers.type_names())})", show_value=False
            )
        try:
            cls = notifiers.load(str(type_node.value))
        except ConfigError as exc:
            raise type_node.error(str(exc)) from None
        language = choice("en", "zh")(mapping["language"]) if "language" in mapping else "en"
        options = build(cls.options_class, child, skip=("type", "language"))
        result[name] = ChannelSpec(
            name=name, type=str(type_node.value), options=options, language=language
        )
    return result


def _overlay(base: Node, override: Node) -> Node:
    """Lay the YAML check over its preset when both have the same type."""
    mapping = override.mapping("a mapping of check settings")
    own_type = mapping.get("type")
    preset_type = base.value["type"].value
    if "probes" in mapping or (own_type is not None and own_type.value != preset_type):
        return override
    merged = dict(base.value)
    merged.update(mapping)
    return Node(merged, override.file, override.line, override.path)


def build_check(name: str, node: Node) -> CheckSpec:
    """Validate one check's settings into a :class:`CheckSpec`."""
    mapping = node.mapping("a mapping of check settings with a 'type' or 'probes'")
    common = {key: mapping[key] for key in COMMON_CHECK_KEYS if key in mapping}
    common_node = Node(common, node.file, node.line, node.path)
    if "probes" in mapping:
        for key in mapping:
            if key not in (*COMMON_CHECK_KEYS, "probes"):
                raise unknown_key_error(node, key, [*COMMON_CHECK_KEYS, "probes"])
        probes_node = mapping["probes"]
        if not isinstance(probes_node.value, list) or not probes_node.value:
            raise probes_node.error("a non-empty list of probes, each with a 'type'")
        probes = tuple(_build_probe(item, skip=()) for item in probes_node.value)
    else:
        probes = (_build_probe(node, skip=COMMON_CHECK_KEYS),)
    settings = build(_CommonSettings, common_node)
    return CheckSpec(
        name=name,
        probes=probes,
        latch=settings.latch,
        on_failure=settings.on_failure,
        deadline=settings.deadline,
        rise=settings.rise,
        fall=settings.fall,
        origin=node.where,
    )


@frozen
class _CommonSettings:
    latch: bool = option(boolean, default=False)
    on_failure: str = option(choice(*ON_FAILURE_CHOICES), default="fail")
    deadline: float | None = option(optional(duration(high=3600.0)), default=None)
    rise: int = option(integer(1, 1000), default=1)
    fall: int = option(integer(1, 1000), default=1)


def _build_probe(node: Node, skip: tuple[str, ...]) -> ProbeSpec:
    from kakit import checks

    mapping = node.mapping("a mapping with a 'type'")
    type_node = mapping.get("type")
    if type_node is None:
        raise node.error(
            f"the key 'type' (one of {', '.join(checks.type_names())})", show_value=False
        )
    if not isinstance(type_node.value, str):
        raise type_node.error(f"one of the check types {', '.join(checks.type_names())}")
    try:
        cls = checks.load(type_node.value)
    except ConfigError as exc:
        raise type_node.error(str(exc)) from None
    options = build(cls.options_class, node, skip=("type", *skip))
    return ProbeSpec(type=type_node.value, options=options)


# --- files -------------------------------------------------------------------------------------


def config_path(explicit: str | None = None) -> tuple[str | None, bool]:
    """The configuration file to read and whether it must exist.

    Returns:
        ``(path, required)``: an explicit ``-c`` or ``$KAKIT_CONFIG`` must exist; the default
        path is optional. ``(None, False)`` means built-in defaults only.
    """
    if explicit:
        return explicit, True
    from_env = os.environ.get(CONFIG_ENV)
    if from_env:
        return from_env, True
    return DEFAULT_CONFIG_PATH, False


def load_config(explicit: str | None = None, *, cache: bool = True) -> Config:
    """Find, read and validate the configuration.

    Args:
        explicit: The ``-c/--config`` value, if any.
        cache: Use (and fill) the validated-configuration cache (:mod:`kakit.config.cache`).

    Raises:
        ConfigError: The file is missing (when named explicitly), unreadable or invalid.
    """
    path, required = config_path(explicit)
    if path is None:
        return Config()
    if "\0" in path:
        raise ConfigError(f"{path!r}: a file name cannot contain a NUL byte")
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
            mode = os.fstat(handle.fileno()).st_mode & 0o777
    except FileNotFoundError:
        if required:
            raise ConfigError(f"{path}: configuration file not found") from None
        return Config()
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise ConfigError(f"{path}: cannot read configuration file: {reason}") from exc
    if not cache:
        return parse_config(text, path)
    from kakit.config import cache as configcache

    cached = configcache.load(path, text, mode)
    if cached is not None:
        return cached
    config = parse_config(text, path)
    configcache.store(path, text, mode, config)
    return config


def parse_config(text: str, source: str) -> Config:
    """Validate configuration text; ``source`` names it in error messages."""
    root = parse_yaml(text, source)
    if root.value is None:
        raise ConfigError(
            f"{source}: the configuration is empty; it must at least say 'version: 1'"
        )
    mapping = root.mapping("a mapping at the top level (version: 1, checks: ...)")
    version = mapping.get("version")
    if version is None:
        raise ConfigError(f"{source}: missing top-level 'version: 1'")
    if version.value not in SUPPORTED_VERSIONS:
        raise version.error("version 1 (the only format this kakit understands)")
    config: Config = build(Config, root, skip=())
    from kakit.core.record import replace

    config = replace(config, source=source)
    for name in config.checks:
        config.check(name)  # validate every check now: `config check` must see every error
    _validate_alerts(config, mapping.get("alerts"))
    _refuse_exposed_inline_secrets(config, source)
    return config


def _validate_alerts(config: Config, node: Node | None) -> None:
    if node is None:
        return
    for index, route in enumerate(config.alerts):
        for channel in route.channels:
            if channel not in config.channels:
                item = node.value[index].value["channels"]
                known = ", ".join(sorted(config.channels)) or "none configured"
                raise item.error(f"names of configured channels (known: {known})")


def _refuse_exposed_inline_secrets(config: Config, source: str) -> None:
    """A secret written inline is only acceptable in a file that group and others cannot read."""
    from kakit.core.secrets import INLINE

    inline = [secret.where for secret in channel_secrets(config) if secret.kind == INLINE]
    if not inline:
        return
    try:
        mode = os.stat(source).st_mode & 0o777
    except OSError:
        return
    if mode & 0o077:
        raise ConfigError(
            f"{inline[0]}: an inline secret in a file readable by group or others (mode {mode:04o}): "
            f"chmod 600 {source}, or use a *_file key, {{file: ...}} or {{env: ...}}"
        )


def parse_yaml(text: str, source: str) -> Node:
    """Parse YAML into located nodes (duplicate keys and non-string keys are errors)."""
    import yaml

    loader_cls: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    loader = loader_cls(text)
    try:
        try:
            root = loader.get_single_node()
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line = f":{mark.line + 1}" if mark is not None else ""
            problem = exc.problem or exc.context or "syntax error"
            raise ConfigError(f"{source}{line}: invalid YAML: {problem}") from None
        except yaml.YAMLError as exc:
            raise ConfigError(f"{source}: invalid YAML: {exc}") from None
        if root is None:
            return Node(None, source, 0, "")
        return _to_node(loader, root, source, "")
    finally:
        loader.dispose()


def _to_node(loader: Any, yaml_node: Any, source: str, path: str) -> Node:
    import yaml

    line = yaml_node.start_mark.line + 1
    if isinstance(yaml_node, yaml.MappingNode):
        mapping: dict[str, Node] = {}
        for key_node, value_node in yaml_node.value:
            key = loader.construct_object(key_node, deep=True)
            key_line = key_node.start_mark.line + 1
            if key == "<<":
                raise ConfigError(
                    f"{source}:{key_line}: {path or '(top level)'}: YAML merge keys (<<) are not supported"
                )
            if not isinstance(key, str):
                raise ConfigError(
                    f"{source}:{key_line}: {path or '(top level)'}: keys must be strings, got {key!r}"
                )
            child_path = f"{path}.{key}" if path else key
            if key in mapping:
                first = mapping[key].line
                raise ConfigError(
                    f"{source}:{key_line}: {child_path}: duplicate key (first defined on line {first})"
                )
            mapping[key] = _to_node(loader, value_node, source, child_path)
            mapping[key].line = key_line
        return Node(mapping, source, line, path)
    if isinstance(yaml_node, yaml.SequenceNode):
        items = [
            _to_node(loader, item, source, f"{path}[{index}]")
            for index, item in enumerate(yaml_node.value)
        ]
        return Node(items, source, line, path)
    return Node(loader.construct_object(yaml_node, deep=True), source, line, path)


# --- printing ----------------------------------------------------------------------------------


def to_plain(value: Any) -> Any:
    """Settings objects as plain data for printing, secrets masked."""
    from kakit.core.record import fields, is_record

    if is_record(value) and not isinstance(value, type):
        result = {}
        for name, spec in fields(value).items():
            item = getattr(value, name)
            result[name] = _masked(item) if spec.secret and item is not None else to_plain(item)
        return result
    if isinstance(value, dict):
        return {key: to_plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [to_plain(item) for item in value]
    if isinstance(value, Node):
        from kakit.core.converters import plain

        return plain(value)
    from kakit.core.secrets import Secret

    if isinstance(value, Secret):
        return value.describe()
    return value


def _masked(value: Any) -> Any:
    """A secret field for printing: references shown, values never."""
    from kakit.core.secrets import Secret

    if isinstance(value, Secret):
        return value.describe()
    if isinstance(value, dict):
        return {key: _masked(item) for key, item in value.items()}
    return "***"


def effective(config: Config) -> dict[str, Any]:
    """The effective configuration as plain data (secrets masked), as ``config check`` prints it."""
    checks = {}
    for name in config.checks:
        spec = config.check(name)
        entry = {
            "origin": spec.origin,
            "latch": spec.latch,
            "on_failure": spec.on_failure,
            "deadline": spec.deadline,
            "rise": spec.rise,
            "fall": spec.fall,
            "probes": [{"type": probe.type, **to_plain(probe.options)} for probe in spec.probes],
        }
        checks[name] = entry
    result: dict[str, Any] = {
        "version": config.version,
        "source": config.source,
        "node": config.node_name(),
        "paths": to_plain(config.paths),
        "log": to_plain(config.log),
        "checks": checks,
    }
    if config.states:
        result["states"] = to_plain(config.states)
        result["hooks"] = to_plain(config.hook_settings())
    if config.channels:
        result["channels"] = {
            name: {"type": spec.type, "language": spec.language, **to_plain(spec.options)}
            for name, spec in config.channels.items()
        }
        result["alerts"] = to_plain(list(config.alerts))
        result["outbox"] = {**to_plain(config.outbox), "path": config.outbox_path()}
    return result


def channel_secrets(config: Config) -> list[Any]:
    """Every :class:`kakit.core.secrets.Secret` referenced by the channels' options."""
    from kakit.core.record import fields as record_fields
    from kakit.core.record import is_record
    from kakit.core.secrets import Secret

    found: list[Secret] = []

    def visit(value: Any) -> None:
        if isinstance(value, Secret):
            found.append(value)
        elif is_record(value) and not isinstance(value, type):
            for name in record_fields(value):
                visit(getattr(value, name))
        elif isinstance(value, dict):
            for item in value.values():
                visit(item)
        elif isinstance(value, list | tuple):
            for item in value:
                visit(item)

    for channel in config.channels.values():
        visit(channel.options)
    return found


def check_secrets(config: Config) -> list[str]:
    """Read every secret the channels reference; returns one problem per unreadable secret."""
    problems = []
    for secret in channel_secrets(config):
        try:
            secret.reveal()
        except ConfigError as exc:
            problems.append(str(exc))
    return problems
