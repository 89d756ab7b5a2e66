"""The notices API's schemas."""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from app.api.schemas import utc

from .channels import render


class NoticeOut(BaseModel):
    id: int
    kind: str = Field(description="e.g. activity.cancelled, signup.promoted, hours.approved")
    text: str = Field(description="The notice in the user's language")
    link: str | None = Field(description="Where it leads, a path in the app")
    created_at: AwareDatetime
    read: bool

    @classmethod
    def of(cls, n) -> NoticeOut:
        return cls(
            id=n.id,
            kind=n.kind,
            text=render(n.kind, n.params or {}),
            link=n.link,
            created_at=utc(n.created_at),
            read=n.read_at is not None,
        )


class NoticeList(BaseModel):
    unread: int
    items: list[NoticeOut] = Field(description="The latest 50, newest first")


class UnreadOut(BaseModel):
    unread: int


class MarkReadIn(BaseModel):
    """No fields: send {}."""

    model_config = ConfigDict(extra="forbid")
