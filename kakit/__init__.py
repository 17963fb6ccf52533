"""kakit: the keepalived companion toolkit.

The public names are loaded on first use (PEP 562): ``kacheck`` imports this package on every
run, and must not pay for YAML parsing or the check modules it does not need.
"""

from __future__ import annotations

__version__ = "0.1.0"

TYPE_CHECKING = False
if TYPE_CHECKING:
    from kakit.checks.base import Check, CheckResult, RunContext
    from kakit.config import CheckSpec, Config, load_config, parse_config
    from kakit.exceptions import (
        CheckError,
        ConfigError,
        ConfigErrors,
        DeliveryError,
        HookError,
        KakitError,
        NotifierTimeout,
        NotifyError,
        PermanentError,
        RetryableError,
        StateError,
        UsageError,
    )

_EXPORTS = {
    "Check": "kakit.checks.base",
    "CheckError": "kakit.exceptions",
    "CheckResult": "kakit.checks.base",
    "CheckSpec": "kakit.config",
    "Config": "kakit.config",
    "ConfigError": "kakit.exceptions",
    "ConfigErrors": "kakit.exceptions",
    "DeliveryError": "kakit.exceptions",
    "HookError": "kakit.exceptions",
    "KakitError": "kakit.exceptions",
    "NotifierTimeout": "kakit.exceptions",
    "NotifyError": "kakit.exceptions",
    "PermanentError": "kakit.exceptions",
    "RetryableError": "kakit.exceptions",
    "RunContext": "kakit.checks.base",
    "StateError": "kakit.exceptions",
    "UsageError": "kakit.exceptions",
    "load_config": "kakit.config",
    "parse_config": "kakit.config",
}

__all__ = [
    "Check",
    "CheckError",
    "CheckResult",
    "CheckSpec",
    "Config",
    "ConfigError",
    "ConfigErrors",
    "DeliveryError",
    "HookError",
    "KakitError",
    "NotifierTimeout",
    "NotifyError",
    "PermanentError",
    "RetryableError",
    "RunContext",
    "StateError",
    "UsageError",
    "__version__",
    "load_config",
    "parse_config",
]


def __getattr__(name: str) -> object:
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module 'kakit' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(module_name), name)
    globals()[name] = value
    return value
