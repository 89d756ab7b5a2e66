"""The fund area's JSON API (app/fund/blueprint.py routes it)."""

from __future__ import annotations
