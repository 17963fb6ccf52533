"""YAML text to a validated :class:`~kakit.config.schema.Config`.

PyYAML is imported here only, and only when a file is actually parsed: importing it costs more
than a whole ``kacheck`` run (see :mod:`kakit.config.cache`). YAML becomes located
:class:`~kakit.core.converters.Node` trees first, so every error can name file, line and key path.
"""

from __future__ import annotations

from kakit.config.schema import Config
from kakit.core.converters import Node, build
from kakit.exceptions import ConfigError, raise_collected

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

SUPPORTED_VERSIONS = (1,)


def parse_config(text: str, source: str) -> Config:
    """Validate configuration text; ``source`` names it in error messages.

    Raises:
        ConfigError: Invalid YAML, a missing or unsupported version, or any invalid value.
    """
    errors: list[ConfigError] = []
    root = parse_yaml(text, source, errors)
    if root.value is None:
        raise ConfigError(
            f"{source}: the configuration is empty; it must at least say 'version: 1'"
        )
    mapping = root.mapping("a mapping at the top level (version: 1, checks: ...)")
    version = mapping.get("version")
    if version is None:
        errors.append(ConfigError(f"{source}: missing top-level 'version: 1'"))
    elif version.value not in SUPPORTED_VERSIONS:
        # A version this kakit does not know means the rest is a format it cannot judge.
        raise version.error("version 1 (the only format this kakit understands)")
    from kakit.config.channels import check_routes, refuse_exposed_inline_secrets

    config: Config | None = None
    try:
        config = build(Config, root, skip=())
    except ConfigError as exc:
        errors.append(exc)
    try:
        check_routes(mapping.get("alerts"), mapping.get("channels"))
    except ConfigError as exc:
        errors.append(exc)
    if config is not None:
        errors += _incomplete_checks(config)
    raise_collected(errors)
    assert config is not None
    from kakit.core.record import replace

    config = replace(config, source=source)
    refuse_exposed_inline_secrets(config, source)
    return config


def _incomplete_checks(config: Config) -> list[ConfigError]:
    """The checks that need a section the file does not have (a realserver check's VIPs)."""
    errors = []
    for name in config.checks:
        try:
            config.check(name)
        except ConfigError as exc:
            errors.append(exc)
    return errors


def parse_yaml(text: str, source: str, errors: list[ConfigError] | None = None) -> Node:
    """Parse YAML into located nodes (duplicate keys and non-string keys are errors).

    Args:
        text: The YAML text.
        source: Its file name, for messages.
        errors: Where to add the errors that leave a usable tree (a duplicate key is skipped
            and reported, and the rest still validated); None raises the first one.

    Raises:
        ConfigError: Invalid YAML, or the first key error when ``errors`` is None.
    """
    own = errors if errors is not None else []
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
        node = _to_node(loader, root, source, "", [MAX_NODES], own)
        if errors is None:
            raise_collected(own)
        return node
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


def _to_node(
    loader: Any,
    yaml_node: Any,
    source: str,
    path: str,
    budget: list[int],
    errors: list[ConfigError],
) -> Node:
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
            problem = _key_problem(loader, key_node, mapping, source, path)
            if problem is not None:
                problem.line = key_line
                errors.append(problem)
                continue
            key = loader.construct_object(key_node, deep=True)
            child_path = f"{path}.{key}" if path else key
            mapping[key] = _to_node(loader, value_node, source, child_path, budget, errors)
            mapping[key].line = key_line
        return Node(mapping, source, line, path)
    if isinstance(yaml_node, yaml.SequenceNode):
        items = [
            _to_node(loader, item, source, f"{path}[{index}]", budget, errors)
            for index, item in enumerate(yaml_node.value)
        ]
        return Node(items, source, line, path)
    return Node(loader.construct_object(yaml_node, deep=True), source, line, path)


def _key_problem(
    loader: Any, key_node: Any, mapping: dict[str, Node], source: str, path: str
) -> ConfigError | None:
    """Why a mapping key cannot be used (its value is then skipped), or None."""
    import yaml

    where = f"{source}:{key_node.start_mark.line + 1}"
    if key_node.tag.endswith(":merge"):
        return ConfigError(
            f"{where}: {path or '(top level)'}: YAML merge keys (<<) are not "
            "supported; repeat the keys, or use an alias for a whole value"
        )
    if not isinstance(key_node, yaml.ScalarNode):
        return ConfigError(f"{where}: {path or '(top level)'}: keys must be strings")
    key = loader.construct_object(key_node, deep=True)
    if not isinstance(key, str):
        return ConfigError(f"{where}: {path or '(top level)'}: keys must be strings, got {key!r}")
    if key in mapping:
        child_path = f"{path}.{key}" if path else key
        first = mapping[key].line
        return ConfigError(f"{where}: {child_path}: duplicate key (first defined on line {first})")
    return None
