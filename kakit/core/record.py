"""Frozen, keyword-only value objects that cost nothing to import.

kakit's settings are immutable value objects, like ``@dataclass(frozen=True, kw_only=True)``.
They are not dataclasses because ``import dataclasses`` pulls in inspect, ast and dis: 18 ms on
top of a 22 ms interpreter start on the reference machine (docs/benchmarks.md), and ``kacheck``
is forked by keepalived every second, forever. ``frozen`` gives the same contract to mypy through
``dataclass_transform`` and builds ``__init__``/``__eq__``/``__hash__``/``__repr__`` at run time
from the class annotations.

A field may carry an :func:`option` spec: the converter that :mod:`kakit.config` applies to the
YAML value, whether it is a secret (masked when the effective config is printed) and its help.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, Generic, TypeVar, dataclass_transform

    T = TypeVar("T")
    C = TypeVar("C", bound=type)
    OptionsT = TypeVar("OptionsT")
else:

    def dataclass_transform(**_kwargs: object) -> object:
        return lambda func: func

    # ``import typing`` is a cost kacheck does not otherwise pay: at run time a family's base
    # class is subscripted with this placeholder, which leaves its options record open.
    OptionsT = None

    class Generic:
        def __class_getitem__(cls, _item: object) -> type:
            return cls


MISSING: object = object()


class Option:
    """How one field of a settings class is read from YAML (made by :func:`option`).

    Args:
        convert: Converter applied to the located YAML node (see :mod:`kakit.core.converters`).
        default: Value when the key is absent; ``MISSING`` makes the key required.
        secret: Mask the value when the effective configuration is printed.
        doc: One line of help, shown in error messages as "expected ...".
        internal: Set by code, not read from YAML (the key is refused in a file).
    """

    __slots__ = ("convert", "default", "doc", "internal", "secret")

    def __init__(
        self,
        convert: Callable[..., Any] | None,
        default: object,
        secret: bool,
        doc: str,
        internal: bool,
    ) -> None:
        self.convert = convert
        self.default = default
        self.secret = secret
        self.doc = doc
        self.internal = internal

    @property
    def required(self) -> bool:
        """True when the key has no default."""
        return self.default is MISSING


def option(
    convert: Callable[..., Any] | None = None,
    *,
    default: Any = MISSING,
    secret: bool = False,
    doc: str = "",
    internal: bool = False,
) -> Any:
    """Declare a settings field with its converter and default (a field specifier).

    Typed ``Any`` so that ``port: int = option(...)`` type-checks; the defaults of an
    :class:`Option` are the ones here.
    """
    return Option(convert, default, secret, doc, internal)


_FIELDS = "__record_fields__"


def _is_classvar(annotation: object) -> bool:
    return isinstance(annotation, str) and annotation.startswith(("ClassVar", "typing.ClassVar"))


@dataclass_transform(kw_only_default=True, frozen_default=True, field_specifiers=(option,))
def frozen(cls: C) -> C:
    """Turn an annotated class into a frozen, keyword-only value object."""
    fields: dict[str, Option] = {}
    for klass in reversed(cls.__mro__[:-1]):
        inherited = klass.__dict__.get(_FIELDS)
        if inherited is not None and klass is not cls:
            # A frozen base already turned its options into plain defaults: reuse its specs
            # (with their converters) instead of reading the class attributes again.
            fields.update(inherited)
            continue
        # inspect.get_annotations would import inspect: the very cost this module avoids.
        own = klass.__dict__.get("__annotations__", {})  # noqa: RUF063
        for name, annotation in own.items():
            if name.startswith("_") or _is_classvar(annotation):
                continue
            value = klass.__dict__.get(name, MISSING)
            fields[name] = value if isinstance(value, Option) else option(default=value)
    for name, spec in fields.items():
        if isinstance(cls.__dict__.get(name), Option):
            # Leave the plain default on the class, like dataclasses do.
            if spec.required:
                delattr(cls, name)
            else:
                setattr(cls, name, spec.default)
    names = tuple(fields)

    def __init__(self: object, **kwargs: object) -> None:
        for name, spec in fields.items():
            if name in kwargs:
                value = kwargs.pop(name)
            elif not spec.required:
                value = spec.default
            else:
                raise TypeError(f"{cls.__name__}() missing keyword argument {name!r}")
            object.__setattr__(self, name, value)
        if kwargs:
            raise TypeError(f"{cls.__name__}() got unexpected keyword arguments {sorted(kwargs)}")
        post_init = getattr(self, "__post_init__", None)
        if post_init is not None:
            post_init()

    def _values(self: object) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in names)

    def __eq__(self: object, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return _values(self) == _values(other)

    def __hash__(self: object) -> int:
        return hash((self.__class__, _values(self)))

    def __repr__(self: object) -> str:
        inner = ", ".join(f"{name}={getattr(self, name)!r}" for name in names)
        return f"{cls.__name__}({inner})"

    def __setattr__(self: object, name: str, value: object) -> None:
        raise AttributeError(f"{cls.__name__} is frozen: cannot set {name!r}")

    def __delattr__(self: object, name: str) -> None:
        raise AttributeError(f"{cls.__name__} is frozen: cannot delete {name!r}")

    for func in (__init__, __eq__, __hash__, __repr__, __setattr__, __delattr__):
        func.__qualname__ = f"{cls.__qualname__}.{func.__name__}"
        setattr(cls, func.__name__, func)
    setattr(cls, _FIELDS, fields)
    return cls


def fields(cls_or_obj: object) -> dict[str, Option]:
    """The field specs of a :func:`frozen` class or instance, in declaration order."""
    found: dict[str, Option] | None = getattr(cls_or_obj, _FIELDS, None)
    if found is None:
        raise TypeError(f"{cls_or_obj!r} is not a frozen record")
    return found


def is_record(obj: object) -> bool:
    """True for instances and classes built by :func:`frozen`."""
    return hasattr(obj, _FIELDS)


def replace(obj: T, **changes: object) -> T:
    """A copy of ``obj`` with some fields changed."""
    values = {name: getattr(obj, name) for name in fields(obj)}
    values.update(changes)
    return obj.__class__(**values)


class _Bound:
    """``Base[Options]`` at run time: a base class that brings its options record along.

    Python replaces it by ``origin`` in the class's bases (``__mro_entries__``) and keeps it in
    ``__orig_bases__``, where :meth:`Member.__init_subclass__` reads the record back.
    """

    __slots__ = ("options_class", "origin")

    def __init__(self, origin: type, options_class: object) -> None:
        self.origin = origin
        self.options_class = options_class

    def __mro_entries__(self, _bases: tuple[object, ...]) -> tuple[type, ...]:
        return (self.origin,)


class Member(Generic[OptionsT]):
    """Base of a family member that is built from a frozen options record.

    ``class TcpCheck(Check[TcpOptions])`` says it once: mypy types ``self.options`` as
    ``TcpOptions``, and at run time the subscript sets ``TcpCheck.options_class``, which
    :meth:`kakit.core.registry.Registry.build` fills from the configuration. A family base
    subscripts with the open placeholder ``OptionsT`` (``class Check(Member[OptionsT])``).

    Attributes:
        options_class: The record the member's options are built as.
        options: This instance's validated options.
    """

    options_class: type[OptionsT]
    options: OptionsT

    if not TYPE_CHECKING:

        def __class_getitem__(cls, options_class: object) -> _Bound:
            return _Bound(cls, options_class)

        def __init_subclass__(cls, **kwargs: object) -> None:
            super().__init_subclass__(**kwargs)
            for base in cls.__dict__.get("__orig_bases__", ()):
                if isinstance(base, _Bound) and isinstance(base.options_class, type):
                    cls.options_class = base.options_class
