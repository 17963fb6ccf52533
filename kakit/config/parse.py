"""YAML text to a validated :class:`~kakit.config.schema.Config`.

PyYAML is imported here only, and only when a file is actually parsed: importing it costs more
than a whole ``kacheck`` run (see :mod:`kakit.config.cache`). YAML becomes located
:class:`~kakit.core.converters.Node` trees first, so every error can name file, line and key path.
"""

from __future__ import annotations

from kakit.config.schema import Config
from kakit.core.converters import Node, build
from kakit.exceptions import ConfigError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

SUPPORTED_VERSIONS = (1,)


def parse_config(text: str, source: str) -> Config:
    """Validate configuration text; ``source`` names it in error messages.

    Raises:
        ConfigError: Invalid YAML, a missing or unsupported version, or any invalid value.
    """
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
    from kakit.config.channels import check_routes, refuse_exposed_inline_secrets
    from kakit.core.record import replace

    config = replace(config, source=source)
    check_routes(config, mapping.get("alerts"))
    refuse_exposed_inline_secrets(config, source)
    return config


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
        return _to_node(loader, root, source, "", [MAX_NODES])
    except yaml.YAMLError as exc:
        # A value PyYAML cannot construct (an unknown tag such as !!python/object).
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{source}{line}: invalid YAML: {problem}") from None
    finally:
        loader.dispose()


#: Nodes a configuration may expand to. Aliases make YAML a graph: nine levels of nine aliases
#: ("billion laughs") expand a 1 KiB file to 10^9 nodes, so expansion is counted and stopped.
MAX_NODES = 100_000


def _to_node(loader: Any, yaml_node: Any, source: str, path: str, budget: list[int]) -> Node:
    import yaml

    line = yaml_node.start_mark.line + 1
    budget[0] -= 1
    if budget[0] < 0:
        raise ConfigError(
            f"{source}:{line}: {path or '(top level)'}: the document expands to more than "
            f"{MAX_NODES} values (YAML aliases repeating aliases?)"
        )
    if isinstance(yaml_node, yaml.MappingNode):
        mapping: dict[str, Node] = {}
        for key_node, value_node in yaml_node.value:
            key_line = key_node.start_mark.line + 1
            if key_node.tag.endswith(":merge"):
                raise ConfigError(
                    f"{source}:{key_line}: {path or '(top level)'}: YAML merge keys (<<) are not "
                    "supported; repeat the keys, or use an alias for a whole value"
                )
            if not isinstance(key_node, yaml.ScalarNode):
                raise ConfigError(
                    f"{source}:{key_line}: {path or '(top level)'}: keys must be strings"
                )
            key = loader.construct_object(key_node, deep=True)
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
            mapping[key] = _to_node(loader, value_node, source, child_path, budget)
            mapping[key].line = key_line
        return Node(mapping, source, line, path)
    if isinstance(yaml_node, yaml.SequenceNode):
        items = [
            _to_node(loader, item, source, f"{path}[{index}]", budget)
            for index, item in enumerate(yaml_node.value)
        ]
        return Node(items, source, line, path)
    return Node(loader.construct_object(yaml_node, deep=True), source, line, path)
