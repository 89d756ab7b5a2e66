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


def paginate(session, stmt, size: int = 20, number: int | None = None) -> Paged:
    number = number or max(1, min(request.args.get("page", 1, type=int) or 1, 100000))
    rows = list(session.scalars(stmt.limit(size + 1).offset((number - 1) * size)))
    return Paged(items=rows[:size], number=number, size=size, has_next=len(rows) > size)
