"""The public surface of the package is exactly what __all__ says."""

from __future__ import annotations

import kakit


class TestExports:
    """``kakit.__all__`` and the lazily loaded names."""

    def test_all_is_sorted_and_resolvable(self) -> None:
        """Every name in __all__ resolves and the list is sorted."""
        assert kakit.__all__ == sorted(kakit.__all__)
        for name in kakit.__all__:
            assert getattr(kakit, name) is not None

    def test_unknown_name(self) -> None:
        """Names outside the public surface raise AttributeError."""
        try:
            kakit.nope  # noqa: B018
        except AttributeError as exc:
            assert "nope" in str(exc)
        else:
            raise AssertionError("kakit.nope should not exist")
