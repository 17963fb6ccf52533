"""The effective configuration as plain data, as ``kakit config check`` prints it.

Secrets are never printed: a secret field shows its reference (``{env: TOKEN}``) or ``***``,
and the user info of any URL (``http://user:password@host``) is shown as ``***``.
:func:`check_secrets` reads every secret the channels reference, so that ``config check`` finds
an unreadable token file before an alert needs it.
"""

from __future__ import annotations

from kakit.core.record import fields, is_record
from kakit.core.secrets import Secret, mask_userinfo
from kakit.exceptions import ConfigError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from kakit.config.schema import AlertRoute, Config


def to_plain(value: Any) -> Any:
    """Settings objects as plain data for printing, secrets masked."""
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
    if isinstance(value, Secret):
        return value.describe()
    if isinstance(value, str):
        return mask_userinfo(value)
    return value


def _masked(value: Any) -> Any:
    """A secret field for printing: references shown, values never."""
    if isinstance(value, Secret):
        return value.describe()
    if isinstance(value, dict):
        return {key: _masked(item) for key, item in value.items()}
    return "***"


def effective(config: Config) -> dict[str, Any]:
    """The effective configuration as plain data (secrets masked), as ``config check`` prints it."""
    checks = {
        name: {
            "origin": spec.origin,
            "latch": spec.latch,
            "on_failure": spec.on_failure,
            "deadline": spec.deadline,
            "rise": spec.rise,
            "fall": spec.fall,
            "probes": [{"type": probe.type, **to_plain(probe.options)} for probe in spec.probes],
        }
        for name, spec in config.checks.items()
    }
    result: dict[str, Any] = {
        "version": config.version,
        "source": config.source,
        "node": config.node_name(),
        "paths": to_plain(config.paths),
        "log": to_plain(config.log),
        "checks": checks,
    }
    if config.states:
        # A hook's options record holds one field named like the hook: merged, each state
        # reads as it was written ({sysctl: ..., firewall: ..., run: ...}).
        result["states"] = {
            state: {
                key: item for options in hooks.values() for key, item in to_plain(options).items()
            }
            for state, hooks in config.states.items()
        }
        result["hooks"] = to_plain(config.hook_settings())
    if config.channels:
        result["channels"] = {
            name: {"type": spec.type, "language": spec.language, **to_plain(spec.options)}
            for name, spec in config.channels.items()
        }
        result["alerts"] = [_route(route) for route in config.alerts]
        result["outbox"] = {**to_plain(config.outbox), "path": config.outbox_path()}
        result["keepalived"] = to_plain(config.keepalived)
    if config.probes:
        result["probes"] = to_plain(list(config.probes))
        result["kaprobe"] = to_plain(config.probe_settings())
    if config.realserver is not None:
        result["realserver"] = to_plain(config.realserver)
    return result


def _route(route: AlertRoute) -> dict[str, Any]:
    """A rule with what it takes written out: every state or event it selects, [] for none."""
    from kakit.core.events import DEFAULT_EVENTS, STATES

    plain: dict[str, Any] = to_plain(route)
    if route.states is None:
        plain["states"] = [] if route.events is not None else list(STATES)
    if route.events is None:
        plain["events"] = [] if route.states is not None else list(DEFAULT_EVENTS)
    return plain


def channel_secrets(config: Config) -> list[Secret]:
    """Every :class:`kakit.core.secrets.Secret` referenced by the channels' options."""
    found: list[Secret] = []

    def visit(value: Any) -> None:
        if isinstance(value, Secret):
            found.append(value)
        elif is_record(value) and not isinstance(value, type):
            for name in fields(value):
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
