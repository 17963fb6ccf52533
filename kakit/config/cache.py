"""A cache of validated configurations, so that kacheck does not parse YAML every second.

Importing PyYAML alone costs about 25 ms (its resolver compiles a dozen regular expressions),
more than kakit's whole run; a validated configuration, pickled, loads in about 2 ms. The cache
is keyed by the file's full text and mode and by kakit's version: any edit, however quick,
misses it (timestamps have a coarse granularity; the bytes do not), and so does a ``chmod`` that
changes whether inline secrets are acceptable.

Only a cache file owned by this user and writable by nobody else is trusted (unpickling runs
code), inside a 0700 directory. Any problem with the cache is a miss, never an error: the file
is then parsed as usual.

Each check and each channel is pickled on its own and unpickled when it is asked for
(:class:`PickledSection`): unpickling one imports its plugin's module, and ``kacheck flag`` must
import neither the service check nor the webhook notifier because the same file configures them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from kakit import __version__

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any

    from kakit.config.schema import Config

CACHE_DIR = "/run/kakit/config-cache"
CACHE_ENV = "KAKIT_CONFIG_CACHE"


def cache_dir() -> str | None:
    """Where cached configurations live (``$KAKIT_CONFIG_CACHE``; ``off`` disables the cache)."""
    chosen = os.environ.get(CACHE_ENV, CACHE_DIR)
    return None if chosen in ("", "off") else chosen


def _cache_file(directory: str, source: str) -> str:
    name = os.path.abspath(source).replace("%", "%25").replace("/", "%")
    return os.path.join(directory, f"{name}.pickle")


def load(source: str, text: str, mode: int) -> Config | None:
    """The cached configuration for ``source`` if it was made from exactly ``text`` and ``mode``."""
    directory = cache_dir()
    if directory is None:
        return None
    from kakit.core.trust import why_unsafe

    # Unpickling runs code: only a cache in a directory that only root can change is read.
    if os.geteuid() == 0 and why_unsafe(os.path.abspath(directory)) is not None:
        return None
    try:
        fd = os.open(_cache_file(directory, source), os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if info.st_uid != os.geteuid() or info.st_mode & 0o022:
            return None
        chunks = []
        while chunk := os.read(fd, 1 << 16):
            chunks.append(chunk)
    except OSError:
        return None
    finally:
        os.close(fd)
    import _pickle

    try:
        key, config, sections = _pickle.loads(b"".join(chunks))
    except Exception:
        # Unpickling a damaged or stale cache can raise almost anything (EOFError, an
        # AttributeError for a renamed class...): every one of them is just a miss.
        return None
    if key != (__version__, mode, text):
        return None
    from kakit.core.record import replace

    lazy = {name: PickledSection(name, items, source, text) for name, items in sections.items()}
    try:
        return replace(config, **lazy)  # type: ignore[no-any-return]
    except AttributeError:
        return None  # pickled by a build of the same version without a field added since


class PickledSection(Mapping[str, "Any"]):
    """A cached section (``checks``, ``channels``): each entry unpickled on first use.

    Args:
        section: The :class:`~kakit.config.schema.Config` field it stands for.
        pickled: Each entry pickled on its own, by name.
        source: The configuration file, parsed again should an entry not unpickle.
        text: Its text, as the cache key matched it.
    """

    def __init__(self, section: str, pickled: dict[str, bytes], source: str, text: str) -> None:
        self._section = section
        self._pickled = pickled
        self._source = source
        self._text = text
        self._loaded: dict[str, Any] = {}

    def __getitem__(self, name: str) -> Any:
        if name in self._loaded:
            return self._loaded[name]
        data = self._pickled[name]
        import _pickle

        try:
            value = _pickle.loads(data)
        except Exception:
            # Same as a stale cache file (a class renamed within one version): parse the file
            # after all rather than fail the check, which would make keepalived fail over.
            from kakit.config.parse import parse_config

            value = getattr(parse_config(self._text, self._source), self._section)[name]
        self._loaded[name] = value
        return value

    def __iter__(self) -> Iterator[str]:
        return iter(self._pickled)

    def __len__(self) -> int:
        return len(self._pickled)


def store(source: str, text: str, mode: int, config: Config) -> None:
    """Remember a validated configuration (best effort: failures are ignored)."""
    directory = cache_dir()
    if directory is None:
        return
    import _pickle

    from kakit.core.fsutil import atomic_write, ensure_dir
    from kakit.core.record import replace
    from kakit.exceptions import ConfigError, StateError

    try:
        sections = {
            section: {name: _pickle.dumps(value, protocol=5) for name, value in entries.items()}
            for section, entries in (("checks", config.checks), ("channels", config.channels))
        }
        rest = replace(config, checks={}, channels={})
        data = ((__version__, mode, text), rest, sections)
        ensure_dir(directory, 0o700)
        atomic_write(_cache_file(directory, source), _pickle.dumps(data, protocol=5), 0o600)
    except (StateError, ConfigError, _pickle.PicklingError, TypeError, AttributeError):
        pass  # an unusable cache directory (ConfigError: someone else could write it) is no cache
