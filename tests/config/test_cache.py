"""Specification of the validated-configuration cache."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from kakit.config import cache as configcache
from kakit.config import load_config
from kakit.exceptions import ConfigError


@pytest.fixture(name="cache_dir")
def _cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "cache"
    monkeypatch.setenv(configcache.CACHE_ENV, str(directory))
    return directory


class TestConfigCache:
    """The cache returns exactly what parsing would, and only for the same bytes."""

    def test_hit_equals_parse(self, cache_dir: Path, write_config: Callable[[str], Path]) -> None:
        """A second load comes from the cache and equals a fresh parse."""
        path = write_config("checks:\n  web: {type: tcp, port: 80}\n")
        fresh = load_config(str(path), cache=False)
        first = load_config(str(path))
        (cached_file,) = cache_dir.iterdir()
        assert oct(cached_file.stat().st_mode & 0o777) == "0o600"
        second = load_config(str(path))
        assert first == fresh and second == fresh
        assert second.check("web").probes[0].options.port == 80

    def test_unpickles_only_what_is_asked_for(
        self, cache_dir: Path, write_config: Callable[[str], Path]
    ) -> None:
        """A warm cache gives one check without importing YAML, other checks' or channels' modules."""
        path = write_config(
            f"checks:\n  m: {{type: flag, path: {cache_dir}/down}}\n  web: {{type: service, service: nginx}}\n"
            "channels:\n  hook: {type: webhook, url: {env: HOOK_URL}}\nalerts: [{channels: [hook]}]\n"
        )
        load_config(str(path))
        heavy = {"yaml", "kakit.checks.service", "kakit.notifiers.webhook"}
        probe = (
            "import sys; from kakit.config import load_config; "
            f"spec = load_config({str(path)!r}).check('m'); "
            f"print(spec.probes[0].type, sorted({heavy!r} & set(sys.modules)))"
        )
        env = {**os.environ, configcache.CACHE_ENV: str(cache_dir)}
        out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True)
        assert out.stdout == "flag []\n", out.stderr

    def test_stale_entry_parsed_again(self, write_config: Callable[[str], Path]) -> None:
        """An entry that no longer unpickles is read from the file instead of failing the check."""
        path = write_config("checks:\n  web: {type: tcp, port: 80}\n")
        checks = configcache.PickledSection(
            "checks", {"web": b"not a pickle"}, str(path), path.read_text()
        )
        assert checks["web"].probes[0].options.port == 80

    def test_any_edit_misses(self, cache_dir: Path, write_config: Callable[[str], Path]) -> None:
        """An edit of the same length within the same clock tick is still seen."""
        path = write_config("checks:\n  web: {type: tcp, port: 80}\n")
        load_config(str(path))
        stat = path.stat()
        path.write_text(path.read_text().replace("port: 80", "port: 81"))
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
        assert load_config(str(path)).check("web").probes[0].options.port == 81

    def test_invalid_file_is_never_cached(
        self, cache_dir: Path, write_config: Callable[[str], Path]
    ) -> None:
        """A configuration error is raised every time, from the file."""
        path = write_config("checks:\n  web: {type: tcp, prot: 80}\n")
        for _ in range(2):
            with pytest.raises(ConfigError, match="unknown key"):
                load_config(str(path))
        assert not cache_dir.exists() or not list(cache_dir.iterdir())

    def test_untrusted_or_damaged_cache_ignored(
        self, cache_dir: Path, write_config: Callable[[str], Path]
    ) -> None:
        """A group-writable or corrupt cache file is a miss, not an error."""
        path = write_config("checks:\n  web: {type: tcp, port: 80}\n")
        load_config(str(path))
        (cached_file,) = cache_dir.iterdir()
        cached_file.chmod(0o664)
        assert configcache.load(str(path), path.read_text(), path.stat().st_mode & 0o777) is None
        cached_file.chmod(0o600)
        cached_file.write_bytes(b"not a pickle")
        assert load_config(str(path)).check("web").probes[0].options.port == 80

    def test_mode_is_part_of_the_key(
        self, cache_dir: Path, write_config: Callable[[str], Path]
    ) -> None:
        """Making a file with an inline secret group-readable is refused even after a cached load."""
        path = write_config(
            'channels:\n  hook: {type: webhook, url: "http://127.0.0.1:9/x?token=abc"}\nalerts: [{channels: [hook]}]\n'
        )
        path.chmod(0o600)
        load_config(str(path))
        path.chmod(0o644)
        with pytest.raises(ConfigError, match="inline secret"):
            load_config(str(path))

    def test_disabled(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, write_config: Callable[[str], Path]
    ) -> None:
        """KAKIT_CONFIG_CACHE=off writes no cache."""
        monkeypatch.setenv(configcache.CACHE_ENV, "off")
        path = write_config("checks: {}\n")
        load_config(str(path))
        assert configcache.cache_dir() is None
