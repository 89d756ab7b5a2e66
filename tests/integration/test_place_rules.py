"""Rules of the org-unit tree (issue 6, item 20): sibling names are unique (trimmed, ignoring letter
case) in the service and in the database; grids nest coarse → fine only (no 基础网格 under a 微网格)."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import IntegrityError

from app.db import utcnow
from app.errors import Conflict, ValidationFailed
from app.places import services as places
from app.places.models import OrgUnit
from tests.factories import make_town

# The rules run in the test's own rolled-back session; the app only lends its request context.
pytestmark = pytest.mark.commits


@pytest.fixture
def town(app, session):
    with app.test_request_context("/?lang=en"):
        yield make_town(session)


def _grid(session, town, name, grid_type, parent):
    return places.create_unit(session, town.district.id, name=name, kind="grid", grid_type=grid_type, parent=parent)


def test_two_units_of_one_name_under_one_parent_are_refused(session, town):
    t = town.district.id
    with pytest.raises(Conflict) as e:
        places.create_unit(
            session, t, name=" 凤凰第一片区网格 ", kind="grid", grid_type="area", parent=town.community_a
        )
    assert e.value.field == "name"
    _grid(session, town, "A区网格", "area", town.community_a)
    with pytest.raises(Conflict):
        _grid(session, town, "a区网格", "area", town.community_a)  # letter case does not make it another
    with pytest.raises(Conflict):
        places.create_unit(session, t, name="凤凰街道", kind="street")  # streets: siblings at the top
    # The same name under another parent is fine, and so is the name of a retired unit.
    _grid(session, town, "凤凰第一片区网格", "area", town.community_b)
    old = _grid(session, town, "旧网格", "area", town.community_a)
    places.retire_unit(session, old)
    _grid(session, town, "旧网格", "area", town.community_a)


def test_rename_and_move_keep_sibling_names_unique(session, town):
    with pytest.raises(Conflict):
        places.rename_unit(session, town.grid_a2, "凤凰第一片区网格")
    places.rename_unit(session, town.grid_a2, "凤凰第二片区网格")  # its own name again is fine
    places.create_unit(
        session, town.district.id, name="凤凰第一片区网格", kind="grid", grid_type="area", parent=town.community_b
    )
    with pytest.raises(Conflict):
        places.move_unit(session, town.grid_a1, town.community_b)


def test_the_database_refuses_duplicate_live_sibling_names(session, town):
    """The unique index backs the service up (a race between two requests, or a script)."""
    with pytest.raises(IntegrityError):
        with session.begin_nested():
            session.add(
                OrgUnit(
                    tenant_id=town.district.id,
                    parent_id=town.community_a.id,
                    kind="grid",
                    grid_type="area",
                    name="凤凰第一片区网格",
                    path="/x/",
                    depth=2,
                    created_at=utcnow(),
                )
            )
            session.flush()
    # A retired unit does not hold its name.
    session.add(
        OrgUnit(
            tenant_id=town.district.id,
            parent_id=town.community_a.id,
            kind="grid",
            grid_type="area",
            name="凤凰第一片区网格",
            path="/y/",
            depth=2,
            created_at=utcnow(),
            retired_at=utcnow(),
        )
    )
    session.flush()


def test_grids_nest_from_coarse_to_fine(session, town):
    basic = _grid(session, town, "第1网格", "basic", town.grid_a1)
    micro = _grid(session, town, "第1微网格", "micro", basic)
    with pytest.raises(ValidationFailed) as e:
        _grid(session, town, "错放的基础网格", "basic", micro)
    assert e.value.field == "parent_id" and "Basic grid" in e.value.message
    other_basic = _grid(session, town, "第2网格", "basic", town.grid_a2)
    with pytest.raises(ValidationFailed):
        places.move_unit(session, other_basic, micro)
    with pytest.raises(ValidationFailed):
        places.move_unit(session, other_basic, basic)  # a basic grid under a basic grid neither
    with pytest.raises(ValidationFailed):
        _grid(session, town, "片区下的片区", "area", town.grid_a1)
    # Changing a grid's type must fit both its parent and the grids under it.
    with pytest.raises(ValidationFailed):
        places.rename_unit(session, basic, basic.name, grid_type="micro")  # its micro grid would be under a micro
    with pytest.raises(ValidationFailed):
        places.rename_unit(session, micro, micro.name, grid_type="area")  # an area grid under a basic grid
    places.move_unit(session, other_basic, town.community_b)  # straight under a community is fine
