"""Secrets in the configuration: given by reference, read when needed, never printed.

A secret may be written as ``{file: /etc/kakit/ding.secret}``, ``{env: KAKIT_DING_SECRET}`` or,
in a file readable by root only, inline. ``*_file`` keys (``secret_file``, ``password_file``) are
the same as ``{file: ...}``. The value is read at the moment it is used (the delivery worker),
so the keepalived notify path does not touch secret files, and ``kakit config check`` reads
them all to prove they are there.
"""

from __future__ import annotations

import os

from kakit.core.converters import Node
from kakit.exceptions import ConfigError

INLINE = "inline"


class Secret:
    """A reference to a secret value.

    Args:
        kind: ``inline``, ``file`` or ``env``.
        ref: The inline value, the file path or the variable name.
        where: ``file:line key.path`` for error messages.
    """

    __slots__ = ("kind", "ref", "where")

    def __init__(self, kind: str, ref: str, where: str = "") -> None:
        self.kind = kind
        self.ref = ref
        self.where = where

    def reveal(self) -> str:
        """The secret value (surrounding whitespace stripped).

        Raises:
            ConfigError: The file or variable is missing, unreadable or empty.
        """
        if self.kind == INLINE:
            value = self.ref
        elif self.kind == "env":
            value = os.environ.get(self.ref, "")
            if not value.strip():
                raise ConfigError(
                    f"{self.where}: environment variable {self.ref} is not set or empty"
                )
        else:
            from kakit.core.trust import require_safe

            # A secret file someone else can write is a way to make root send their text (or
            # read a file of their choosing into an alert): refused like an unsafe program.
            try:
                require_safe(self.ref, "secret file")
            except ConfigError as exc:
                raise ConfigError(f"{self.where}: {exc}") from None
            try:
                with open(self.ref, encoding="utf-8") as handle:
                    value = handle.read(65536)
            except OSError as exc:
                raise ConfigError(
                    f"{self.where}: cannot read secret file {self.ref}: {exc.strerror or exc}"
                ) from exc
            if not value.strip():
                raise ConfigError(f"{self.where}: secret file {self.ref} is empty")
        return value.strip()

    def describe(self) -> str:
        """What may be shown: the reference, never the value."""
        return "***" if self.kind == INLINE else f"{{{self.kind}: {self.ref}}}"

    def __repr__(self) -> str:
        return f"Secret({self.describe()})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and (self.kind, self.ref) == (other.kind, other.ref)

    def __hash__(self) -> int:
        return hash((self.kind, self.ref))


def secret_ref(node: Node) -> Secret:
    """Converter: an inline string, ``{file: PATH}`` or ``{env: NAME}``."""
    where = f"{node.where}: {node.path}"
    value = node.value
    if isinstance(value, str) and value.strip():
        return Secret(INLINE, value, where)
    if isinstance(value, dict) and len(value) == 1:
        ((kind, child),) = value.items()
        if kind == "file" and isinstance(child.value, str) and child.value.startswith("/"):
            return Secret("file", child.value, where)
        if kind == "env" and isinstance(child.value, str) and child.value.strip():
            return Secret("env", child.value.strip(), where)
    raise node.error(
        "a secret: {file: /etc/kakit/NAME}, {env: VARIABLE} or (in a root-only file) a string",
        show_value=False,
    )


def optional_secret(node: Node) -> Secret | None:
    """Converter: a secret or null."""
    return None if node.value is None else secret_ref(node)


def secret_file(node: Node) -> Secret | None:
    """Converter for ``*_file`` keys: an absolute path holding the secret, or null."""
    if node.value is None:
        return None
    if not isinstance(node.value, str) or not node.value.startswith("/"):
        raise node.error("an absolute path to a file holding the secret")
    return Secret("file", node.value, f"{node.where}: {node.path}")


def secret_map(node: Node) -> dict[str, Secret]:
    """Converter for headers: every value is a secret, written inline or as a reference.

    Which header carries a credential cannot be told from its name (``X-Api-Key``,
    ``X-Auth``, ``Authorization``...), so none is assumed harmless: every value is masked,
    redacted from errors and, written inline, refused in a file that others can read.
    """
    result: dict[str, Secret] = {}
    for key, child in node.mapping(
        "a mapping of header names to values or {file:}/{env:} secrets"
    ).items():
        if isinstance(child.value, int | float) and not isinstance(child.value, bool):
            result[key] = Secret(INLINE, str(child.value), f"{child.where}: {child.path}")
        elif isinstance(child.value, dict | str):
            result[key] = secret_ref(child)
        else:
            raise child.error("a string or a {file:}/{env:} secret")
    return result


def mask_userinfo(text: str) -> str:
    """``text`` with the user info of a URL (``https://user:password@host``) replaced by
    ``***``; any other text unchanged. A URL's user info is a credential: httpx sends it as
    ``Authorization: Basic``."""
    scheme, sep, rest = text.partition("://")
    if not sep or "@" not in rest:
        return text
    end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    _, at, hostport = rest[:end].rpartition("@")
    if not at:
        return text
    return f"{scheme}://***@{hostport}{rest[end:]}"


def either(inline: Secret | None, from_file: Secret | None, what: str) -> Secret | None:
    """The one secret given as ``key`` or ``key_file``; both is a configuration error (ValueError)."""
    if inline is not None and from_file is not None:
        raise ValueError(f"give {what} or {what}_file, not both")
    return inline if inline is not None else from_file
