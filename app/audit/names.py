"""The audit log page's reader: who and what the events name, by name and place, in a fixed number of
queries. It reads every area's people and places, so it sits above them (only the audit views use it;
the areas themselves call only `services.record`, below them)."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.models import User
from app.people.models import Member
from app.places.models import District, OrgUnit

from .labels import TARGET_NAMES, detail_key
from .models import AuditEvent


@dataclass(frozen=True)
class Person:
    user_id: int | None
    member_id: int
    name: str
    place: str  # the path of their grid, e.g. "凤凰街道 › 凤凰社区 › 第一网格"


@dataclass
class Names:
    """Who and what a page of events mentions, loaded in a fixed handful of queries."""

    users: dict[int, Person] = field(default_factory=dict)
    members: dict[int, Person] = field(default_factory=dict)
    units: dict[int, str] = field(default_factory=dict)  # id -> "street › community › grid"
    things: dict[str, dict[int, str]] = field(default_factory=dict)  # target type -> id -> its name

    def of(self, kind: str | None, ident) -> str | None:
        if not isinstance(ident, int) or isinstance(ident, bool):
            return None
        if kind == "org_unit":
            return self.units.get(ident)
        if kind in self.things:
            return self.things[kind].get(ident)
        person = (self.users if kind == "user" else self.members if kind == "member" else {}).get(ident)
        return f"{person.name}（{person.place}）" if person and person.place else (person.name if person else None)


def _district_names(session: Session, tenant_id: int, ids) -> dict[int, str]:
    """A district names only itself (its id is the tenant's)."""
    if tenant_id not in ids:
        return {}
    return {tenant_id: session.scalar(select(District.name).where(District.id == tenant_id)) or ""}


TARGET_NAMES.setdefault("district", _district_names)


def _refs(detail, out: dict[str, set[int]], action: str | None, key: str | None = None) -> None:
    """Collect the ids a detail names, by the registered kind of the key they sit under."""
    spec = detail_key(action, key) if key else None
    if isinstance(detail, dict):
        for k, v in detail.items():
            # {"from": x, "to": y} under a key: the values are of that key's kind.
            _refs(v, out, action, key if k in ("from", "to") and spec is not None else k)
    elif isinstance(detail, int) and not isinstance(detail, bool) and spec is not None and spec.refers_to:
        out.setdefault(spec.refers_to, set()).add(detail)


def names_for(session: Session, tenant_id: int, events: list[AuditEvent]) -> Names:
    # Ids by kind: people and units, and the objects areas name (register_target_names), as targets or
    # in details.
    ids: dict[str, set[int]] = {"user": set(), "member": set(), "org_unit": set()}
    for e in events:
        if e.actor_user_id:
            ids["user"].add(e.actor_user_id)
        if e.target_id and (e.target_type in ids or e.target_type in TARGET_NAMES):
            ids.setdefault(e.target_type, set()).add(e.target_id)
        _refs(e.detail or {}, ids, e.action)
    names = Names()
    for kind, wanted in ids.items():  # one query per kind of object the page names
        if kind in TARGET_NAMES and wanted:
            names.things[kind] = TARGET_NAMES[kind](session, tenant_id, wanted)
    people: list[tuple[str, int, int | None, int, str, int]] = []
    if ids["user"]:
        people += [
            ("user", uid, uid, mid, name, grid)
            for uid, mid, name, grid in session.execute(
                select(User.id, Member.id, Member.name, Member.grid_id)
                .join(Member, Member.id == User.member_id)
                .where(User.tenant_id == tenant_id, User.id.in_(ids["user"]))
            )
        ]
    if ids["member"]:
        people += [
            ("member", mid, None, mid, name, grid)
            for mid, name, grid in session.execute(
                select(Member.id, Member.name, Member.grid_id).where(
                    Member.tenant_id == tenant_id, Member.id.in_(ids["member"])
                )
            )
        ]
    unit_ids = ids["org_unit"] | {p[5] for p in people}
    paths: dict[int, str] = {}
    if unit_ids:
        paths = dict(
            session.execute(
                select(OrgUnit.id, OrgUnit.path).where(OrgUnit.tenant_id == tenant_id, OrgUnit.id.in_(unit_ids))
            ).all()
        )
    every = {int(x) for p in paths.values() for x in p.strip("/").split("/") if x}
    unit_names = (
        dict(
            session.execute(
                select(OrgUnit.id, OrgUnit.name).where(OrgUnit.tenant_id == tenant_id, OrgUnit.id.in_(every))
            ).all()
        )
        if every
        else {}
    )
    for uid, p in paths.items():
        names.units[uid] = " › ".join(unit_names.get(int(x), "?") for x in p.strip("/").split("/") if x)
    for kind, key, user_id, member_id, name, grid in people:
        person = Person(user_id, member_id, name, names.units.get(grid, ""))
        (names.users if kind == "user" else names.members)[key] = person
    return names


def names_for_users(session: Session, tenant_id: int, user_ids: list[int]) -> dict[int, Person]:
    """Just the named users (the person picked in the "who" filter, when none of the page's events is theirs)."""
    fake = [AuditEvent(actor_user_id=u) for u in user_ids]
    return names_for(session, tenant_id, fake).users


def find_actors(session: Session, tenant_id: int, text: str, limit: int = 20) -> list[Person]:
    """People who can sign in (and so act) whose name contains `text` — the audit page's "who" filter."""
    rows = session.execute(
        select(User.id, Member.id, Member.name, OrgUnit.path)
        .join(Member, Member.id == User.member_id)
        .join(OrgUnit, OrgUnit.id == Member.grid_id)
        .where(User.tenant_id == tenant_id, Member.name.contains(text, autoescape=True))
        .order_by(Member.name, User.id)
        .limit(limit)
    ).all()
    every = {int(x) for *_, path in rows for x in path.strip("/").split("/") if x}
    unit_names = (
        dict(session.execute(select(OrgUnit.id, OrgUnit.name).where(OrgUnit.id.in_(every))).all()) if every else {}
    )
    return [
        Person(uid, mid, name, " › ".join(unit_names.get(int(x), "?") for x in path.strip("/").split("/") if x))
        for uid, mid, name, path in rows
    ]
