"""How a member's points history says a journal in words, for journals posted for higher areas.

The points area posts every PT journal, but some are about things it knows nothing of (an outlet's
redemption: which shop, which goods). A higher area registers a describer for its journal kinds in
its `setup`; `member_points` asks it for the titles of the lines on the page, in one call per kind, so
the points area never imports the higher one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from flask import Flask, current_app, has_app_context
from sqlalchemy.orm import Session

# describer(session, tenant_id, {journal_id: meta}) -> {journal_id: title}; a journal left out keeps
# the title it has (its meta's "title", else its memo).
Describer = Callable[[Session, int, Mapping[int, dict]], Mapping[int, str]]


def register_describer(app: Flask, kind: str, describer: Describer) -> None:
    """Say journals of `kind` in words with `describer` (called from an area's setup)."""
    app.extensions.setdefault("points_describers", {})[kind] = describer


def describe(session: Session, tenant_id: int, kinds: Mapping[int, str], metas: Mapping[int, dict]) -> dict[int, str]:
    """Titles from the registered describers for the given journals ({journal_id: kind}); {} outside an app."""
    if not has_app_context():
        return {}
    describers: dict[str, Describer] = current_app.extensions.get("points_describers", {})
    titles: dict[int, str] = {}
    for kind, describer in describers.items():
        ids = {jid: metas.get(jid, {}) for jid, k in kinds.items() if k == kind}
        if ids:
            titles.update(describer(session, tenant_id, ids))
    return titles
