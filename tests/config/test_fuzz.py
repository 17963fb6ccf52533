"""No configuration document crashes kakit: fuzzed YAML, anchors, aliases and merge keys.

Whatever the file holds, loading it gives a validated configuration or one ConfigError (exit 2)
naming file and line; nothing else escapes, and the effective configuration of an accepted
file can always be printed.
"""

from __future__ import annotations

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kakit.config import parse_config
from kakit.config.show import effective
from kakit.exceptions import ConfigError, config_errors

FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))

#: Keys kakit knows, so that generated documents get past the first unknown key often.
KEYS = [
    "version",
    "paths",
    "state_dir",
    "data_dir",
    "log",
    "level",
    "file",
    "syslog",
    "checks",
    "type",
    "probes",
    "nginx",
    "flag",
    "path",
    "port",
    "host",
    "timeout",
    "interval",
    "count",
    "latch",
    "on_failure",
    "deadline",
    "rise",
    "fall",
    "restart",
    "max",
    "within",
    "wait",
    "states",
    "MASTER",
    "BACKUP",
    "sysctl",
    "firewall",
    "accept",
    "run",
    "hooks",
    "channels",
    "alerts",
    "url",
    "headers",
    "template",
    "outbox",
    "coalesce",
    "ttl",
    "templates",
    "en",
    "title",
    "node",
    "webhook",
    "email",
    "dingtalk",
    "argv",
    "command",
    "tcp",
    "http",
    "gateway",
]
scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(
        [
            "1s",
            "200ms",
            ".nan",
            ".inf",
            "1_0",
            "٣",
            "+5",
            "/dev/null/x",
            "/tmp/x",
            "{node}",
            "{nope}",
            "http://127.0.0.1:1/x",
            "fail",
            "stop-keepalived",
        ]
    ),
    st.text(max_size=12),
)
value = st.recursive(
    scalar,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(
            st.one_of(st.sampled_from(KEYS), st.text(max_size=6)), children, max_size=5
        ),
    ),
    max_leaves=25,
)
document = st.dictionaries(st.sampled_from(KEYS), value, max_size=6).map(
    lambda doc: {"version": 1, **doc}
)


def load(text: str) -> None:
    """Parse ``text`` the way every tool does; print an accepted result as config check does."""
    try:
        config = parse_config(text, "fuzz.yaml")
    except ConfigError as exc:
        assert str(exc).startswith("fuzz.yaml"), exc
        return
    effective(config)


class TestDocuments:
    """Generated documents: validated, or refused with one located line."""

    @FUZZ
    @given(doc=document)
    def test_structures(self, doc: dict[str, object]) -> None:
        """Any structure of known and unknown keys and odd values."""
        load(yaml.safe_dump(doc, allow_unicode=True))

    @FUZZ
    @given(doc=document, anchor=st.sampled_from(KEYS), merge=st.booleans())
    def test_anchors_aliases_and_merge_keys(
        self, doc: dict[str, object], anchor: str, merge: bool
    ) -> None:
        """A document whose values are reused through anchors, aliases and merge keys."""
        text = yaml.safe_dump(doc, allow_unicode=True)
        extra = f"x_{anchor}: &a {{k: 1}}\ny_{anchor}: {'{<<: *a}' if merge else '*a'}\n"
        load(text + extra)

    @FUZZ
    @given(text=st.text(max_size=300))
    def test_raw_text(self, text: str) -> None:
        """Any text at all."""
        load(text)


class TestBounded:
    """Documents built to exhaust time or memory are refused quickly."""

    @pytest.mark.parametrize("levels", [6, 9, 12])
    def test_billion_laughs(self, levels: int) -> None:
        """Nested aliases are cut off at a node budget, whatever the nesting (the suite's
        timeout catches a parser that would expand them)."""
        lines = [
            "version: 1",
            "junk:",
            '  l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
        ]
        lines += [f"  l{i}: &l{i} [" + ",".join([f"*l{i - 1}"] * 9) + "]" for i in range(1, levels)]
        with pytest.raises(ConfigError, match="expands to more than 100000 values"):
            parse_config("\n".join(lines) + "\n", "bomb.yaml")

    def test_merge_key_is_one_located_line(self) -> None:
        """A merge key is refused with its line, not a traceback."""
        with pytest.raises(ConfigError) as caught:
            parse_config("version: 1\nx: &x {a: 1}\ny: {<<: *x}\n", "m.yaml")
        merge = [str(e) for e in config_errors(caught.value) if "merge" in str(e)]
        assert [line.split(";")[0] for line in merge] == [
            "m.yaml:3: y: YAML merge keys (<<) are not supported"
        ]
