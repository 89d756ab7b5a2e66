"""Page-number pagination for every list: fetch one row more than shown to know if a next page exists."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import request, url_for


@dataclass
class Paged:
    items: list
    number: int
    size: int
    has_next: bool
    total: int | None = None

    def _url(self, n: int) -> str:
        args: dict[str, Any] = dict(request.args)
        args["page"] = n
        assert request.endpoint is not None  # only called while rendering a routed request
        return url_for(request.endpoint, **(request.view_args or {}), **args)

    @property
    def prev_url(self) -> str | None:
        return self._url(self.number - 1) if self.number > 1 else None

    @property
    def next_url(self) -> str | None:
        return self._url(self.number + 1) if self.has_next else None


def paginate(session, stmt, size: int = 20, number: int | None = None, *, rows: bool = False) -> Paged:
    """One page of `stmt`: its entities, or with `rows` its rows (a Core select of columns)."""
    number = number or max(1, min(request.args.get("page", 1, type=int) or 1, 100000))
    page = stmt.limit(size + 1).offset((number - 1) * size)
    got = session.connection().execute(page).all() if rows else list(session.scalars(page))
    return Paged(items=got[:size], number=number, size=size, has_next=len(got) > size)
