"""The payee's own rewards: each payout to them in yuan (separate from their points), its status and,
when it did not pay, why."""

from __future__ import annotations

from flask import render_template
from flask_login import current_user, login_required

from app.db import get_session
from app.errors import NotFound

from .labels import CHANNEL_LABELS
from .payees import my_rewards


@login_required
def my_rewards_page():
    if current_user.member_id is None:
        raise NotFound("")
    mine = my_rewards(get_session(), current_user.tenant_id, current_user.member_id, limit=200)
    return render_template("fund/my_rewards.html", mine=mine, CHANNEL_LABELS=CHANNEL_LABELS)
