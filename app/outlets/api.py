"""The outlets area's JSON API (app/outlets/blueprint.py routes it)."""

from __future__ import annotations
