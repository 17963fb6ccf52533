"""Specification of the frozen settings objects."""

from __future__ import annotations

import pytest

from kakit.core.record import Member, OptionsT, fields, frozen, option, replace


@frozen
class Sample:
    """A settings class used by these tests."""

    name: str
    count: int = 3
    tags: tuple[str, ...] = option(default=(), secret=True)


class TestFrozen:
    """Behaviour of ``@frozen`` classes."""

    def test_keyword_only_with_defaults(self) -> None:
        """Fields are keyword-only and defaults apply."""
        sample = Sample(name="a")
        assert (sample.name, sample.count, sample.tags) == ("a", 3, ())

    def test_missing_and_unexpected_arguments(self) -> None:
        """Missing required fields and unknown keywords are TypeErrors."""
        with pytest.raises(TypeError, match="missing keyword argument 'name'"):
            Sample()  # type: ignore[call-arg]
        with pytest.raises(TypeError, match="unexpected keyword"):
            Sample(name="a", colour="red")  # type: ignore[call-arg]

    def test_immutable(self) -> None:
        """Assigning to a field fails."""
        sample = Sample(name="a")
        with pytest.raises(AttributeError, match="frozen"):
            sample.name = "b"  # type: ignore[misc]

    def test_value_semantics(self) -> None:
        """Equal fields mean equal objects with equal hashes and a readable repr."""
        assert Sample(name="a") == Sample(name="a")
        assert hash(Sample(name="a")) == hash(Sample(name="a"))
        assert Sample(name="a") != Sample(name="b")
        assert repr(Sample(name="a")) == "Sample(name='a', count=3, tags=())"

    def test_replace_and_fields(self) -> None:
        """replace() copies with changes; fields() exposes the specs in order."""
        assert replace(Sample(name="a"), count=5) == Sample(name="a", count=5)
        specs = fields(Sample)
        assert list(specs) == ["name", "count", "tags"]
        assert specs["tags"].secret and specs["name"].required and not specs["count"].required


class TestInheritance:
    """A frozen subclass keeps its frozen base's fields, converters and defaults."""

    def test_subclass_reuses_base_specs(self) -> None:
        """The base's option specs (not its plain class defaults) reach the subclass."""

        @frozen
        class Child(Sample):
            extra: int = option(default=1)

        specs = fields(Child)
        assert list(specs) == ["name", "count", "tags", "extra"]
        assert specs["tags"].secret and specs["name"].required
        assert Child(name="a") == Child(name="a", count=3, tags=(), extra=1)


class Family(Member[OptionsT]):
    """A family base: its options record is left open."""

    def __init__(self, options: OptionsT) -> None:
        self.options = options


class SampleMember(Family[Sample]):
    """A member that names its record once, in its base."""


class TestMember:
    """A member's subscripted base declares its options record, with nothing else in between."""

    def test_subscript_sets_options_class(self) -> None:
        """``Family[Sample]`` makes ``Sample`` the record the registry builds for the member."""
        assert vars(SampleMember)["options_class"] is Sample
        assert SampleMember(Sample(name="a")).options.count == 3

    def test_open_base_has_no_record(self) -> None:
        """The family base itself names no record, so a member that forgets is caught."""
        assert "options_class" not in vars(Family)
        assert not hasattr(Family, "options_class")

    def test_no_synthetic_class_in_the_mro(self) -> None:
        """The subscript leaves the real base in the MRO: isinstance and super work as written."""
        assert SampleMember.__mro__[1] is Family
        assert isinstance(SampleMember(Sample(name="a")), Family)

    def test_subclass_of_a_member_inherits_the_record(self) -> None:
        """A member derived from another member keeps its record unless it names a new one."""

        class Derived(SampleMember):
            pass

        assert Derived(Sample(name="a")).options_class is Sample
