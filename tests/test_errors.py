"""The one-line error helper every loader shares."""

from __future__ import annotations

from rin.errors import first_line


def test_first_line_keeps_one_line_and_names_an_empty_error() -> None:
    """A multi-line message gives its first line; an empty one gives the error's type name."""
    assert first_line(ValueError("  first\nsecond")) == "first"
    assert first_line(KeyError()) == "KeyError"
