"""Specification of the hot path's JSON: the same text and values as the json module."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from kakit.core import smalljson

VALUES = [
    {"last": {"ok": True, "summary": "nginx up (pid 42) \u2713", "time": 1764700000.25}},
    {"restarts": {"nginx": [1.0, 2.5e300]}, "b": None, "a": [False, -3, 'tab\t"quote"']},
    [],
    "text",
]


class TestSmallJson:
    """dumps/loads agree with ``json.dumps(value, sort_keys=True)`` and ``json.loads``."""

    @pytest.mark.parametrize("value", VALUES)
    def test_same_text_as_json(self, value: object) -> None:
        """The text written is byte for byte what json.dumps with sorted keys writes."""
        assert smalljson.dumps(value) == json.dumps(value, sort_keys=True)

    @pytest.mark.parametrize("value", VALUES)
    def test_reads_what_json_writes(self, value: object) -> None:
        """Text json wrote (indented, surrounded by whitespace) reads back as the same value."""
        assert smalljson.loads(f" \n{json.dumps(value, indent=2)}\n") == value

    @pytest.mark.parametrize(
        "text", ["", "{", '{"a": 1} trailing', "[1,]", "{'a': 1}", "[" * 100_000, '{"a":' * 100_000]
    )
    def test_malformed_text_is_a_value_error(self, text: str) -> None:
        """Corrupt state files raise ValueError, which the callers treat as "no state"."""
        with pytest.raises(ValueError):
            smalljson.loads(text)

    def test_unserializable_value_is_a_type_error(self) -> None:
        """A value JSON cannot hold raises TypeError, like json.dumps."""
        with pytest.raises(TypeError, match="Object of type set is not JSON serializable"):
            smalljson.dumps({"a": {1}})

    def test_imports_neither_json_nor_re(self) -> None:
        """Using it costs no ``import json`` (and so no ``re``) in a fresh interpreter."""
        code = (
            "import sys\nfrom kakit.core import smalljson\n"
            "smalljson.loads(smalljson.dumps({'a': [1]}))\n"
            "print(sorted({'json', 're'} & set(sys.modules)))"
        )
        result = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        assert result.stdout.strip() == "[]"
