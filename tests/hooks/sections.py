"""Reading the ``states`` and ``hooks`` sections of a kakit.yaml text, as the loader does."""

from __future__ import annotations

import textwrap
from typing import Any

import pytest

from kakit.config.parse import parse_yaml
from kakit.core.converters import Node, record
from kakit.exceptions import ConfigError
from kakit.hooks.spec import HookSettings, states_section


def sections(body: str) -> tuple[dict[str, dict[str, Any]], HookSettings]:
    """The ``states`` section (hook options by state) and the ``hooks`` settings of ``body``."""
    root = parse_yaml(textwrap.dedent(body), "kakit.yaml").mapping()
    states = states_section(root["states"]) if "states" in root else {}
    settings = record(HookSettings)(root.get("hooks") or Node(None, "kakit.yaml", 0, "hooks"))
    return states, settings


def refusal(body: str) -> str:
    """The ConfigError message reading the sections of ``body`` raises."""
    with pytest.raises(ConfigError) as caught:
        sections(body)
    return str(caught.value)
