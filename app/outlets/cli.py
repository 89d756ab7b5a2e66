"""`flask outlets ...`: the stock check (shelf balances = postings = movement records)."""

from __future__ import annotations

import click

outlets_cli = click.Group("outlets", help="爱心超市 outlets: stock checks.")
