"""Shared form helpers."""

from wtforms import SelectChoice


def choices(pairs) -> list[SelectChoice]:
    """(value, label) pairs as WTForms 3.3+ select choices."""
    return [SelectChoice(value, label) for value, label in pairs]
