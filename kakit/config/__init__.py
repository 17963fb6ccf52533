"""Loading ``kakit.yaml``: find the file, then use the validated-configuration cache or parse it.

Lookup order: ``-c/--config``, then ``$KAKIT_CONFIG``, then ``/etc/kakit/kakit.yaml``; with none
of them present the built-in defaults and presets apply. The file must say ``version: 1``.
Unknown keys are errors (a typo in an HA configuration silently turning a check off is worse than
a loud failure), and every error names file, line, key path, the bad value and what was
expected.

The package is split by job:

- :mod:`kakit.config.schema`: :class:`Config` and its small sections.
- :mod:`kakit.config.parse`: YAML text to located nodes to a validated :class:`Config`.
- :mod:`kakit.config.channels`: the ``channels`` section and the inline-secret rule.
- :mod:`kakit.config.cache`: validated configurations pickled between runs.
- :mod:`kakit.config.show`: the effective configuration for printing, secrets masked.

This module runs on every ``kacheck`` call: what it imports imports nothing heavy, and the parser
imports PyYAML only when a file has to be parsed, so ``kacheck nginx`` without a file and a warm
cache never import YAML.
"""

from __future__ import annotations

import os

from kakit.checks.spec import CheckSpec, ProbeSpec
from kakit.config.parse import parse_config
from kakit.config.schema import Config
from kakit.exceptions import ConfigError

DEFAULT_CONFIG_PATH = "/etc/kakit/kakit.yaml"
CONFIG_ENV = "KAKIT_CONFIG"

__all__ = [
    "CONFIG_ENV",
    "DEFAULT_CONFIG_PATH",
    "CheckSpec",
    "Config",
    "ProbeSpec",
    "config_path",
    "load_config",
    "parse_config",
]


#: A kakit configuration is a few KiB; a file far larger is a mistake or an attack (YAML that
#: expands, a 200 000-check file that takes a minute to validate and fills /run with its cache).
MAX_CONFIG_BYTES = 1 << 20


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
        return _safe_paths(Config())
    if "\0" in path:
        raise ConfigError(f"{path!r}: a file name cannot contain a NUL byte")
    try:
        # Opened without waiting for a writer, then read blocking: a FIFO nobody writes to
        # reads as empty instead of hanging every kacheck run, and `-c <(...)` is still read
        # to its end.
        with open(os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC), "rb") as handle:
            os.set_blocking(handle.fileno(), True)
            data = handle.read(MAX_CONFIG_BYTES + 1)
            mode = os.fstat(handle.fileno()).st_mode & 0o777
    except FileNotFoundError:
        if required:
            raise ConfigError(f"{path}: configuration file not found") from None
        return _safe_paths(Config())
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read configuration file: {exc.strerror or exc}") from exc
    from kakit.core.trust import require_safe

    require_safe(path, "configuration file")
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(
            f"{path}: larger than {MAX_CONFIG_BYTES // 1024} KiB; a kakit configuration is a few KiB"
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    if cache:
        from kakit.config import cache as configcache

        cached = configcache.load(path, text, mode)
        if cached is not None:
            return _safe_paths(cached)
    config = _safe_paths(parse_config(text, path))
    if cache:
        configcache.store(path, text, mode, config)
    return config


def _safe_paths(config: Config) -> Config:
    """Refuse (as root) directories and files kakit writes that someone else could change."""
    from kakit.core.trust import require_safe
    from kakit.exceptions import raise_collected

    places = [
        (config.paths.state_dir, "state directory (paths.state_dir)"),
        (config.paths.data_dir, "data directory (paths.data_dir)"),
        (os.path.dirname(config.outbox_path()), "outbox directory"),
    ]
    if config.log.file:
        places.append((config.log.file, "log file (log.file)"))
    if config.fifo.textfile:
        places.append((config.fifo.textfile, "metrics text file (fifo.textfile)"))
    if config.kaprobe is not None and config.kaprobe.textfile:
        places.append((config.kaprobe.textfile, "metrics text file (kaprobe.textfile)"))
    errors = []
    for path, what in places:
        try:
            require_safe(path, what)
        except ConfigError as exc:
            errors.append(exc)
    raise_collected(errors)
    return config
