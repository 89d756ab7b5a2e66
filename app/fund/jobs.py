"""The fund's scheduled work (filled in below)."""

from __future__ import annotations

import click
from flask.cli import AppGroup

fund_cli = AppGroup("fund", help="The reward fund.")
