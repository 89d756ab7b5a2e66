"""The house: an area plugs in with one package and one line, and the permission check serves it.

tests/areas/notes is a throwaway area (a model, two actions, a page and an API route). Nothing outside
that package changes for it: the test hands create_app the standard list plus its name."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from app import AREAS, access, create_app
from app.area import model_modules
from app.db import Base, metadatas, unit_of_work
from tests.conftest import sign_in
from tests.factories import make_town


@pytest.fixture
def notes_app(engine, db_url):
    application = create_app(
        {
            "ENV": "test",
            "SECRET_KEY": "test-secret-key",
            "DATABASE_URL": db_url,
            "ENGINE": engine,
            "RATELIMIT_STORAGE_URI": "memory://",
            "PASSWORD_HASH_FAST": True,
        },
        areas=[*AREAS, "tests.areas.notes"],
    )
    from tests.areas.notes.models import Note

    Note.__table__.create(engine, checkfirst=True)
    yield application
    Note.__table__.drop(engine, checkfirst=True)


@pytest.fixture
def noted_town(notes_app):
    from tests.areas.notes.models import Note

    with notes_app.app_context(), notes_app.test_request_context():
        with unit_of_work(notes_app.extensions["db_sessionmaker"]) as s:
            town = make_town(s)
            inside = Note(tenant_id=town.district.id, org_unit_id=town.grid_a1.id, text="凤凰第一网格的便条")
            outside = Note(tenant_id=town.district.id, org_unit_id=town.grid_b1.id, text="塘家的便条")
            s.add_all([inside, outside])
            s.flush()
            town.notes = (inside.id, outside.id)
    return town


def test_a_new_area_brings_its_page_api_actions_and_grants(notes_app, noted_town):
    inside, outside = noted_town.notes
    client = notes_app.test_client()
    assert client.get(f"/api/v1/notes/{inside}").status_code == 401  # the API's house rules apply to it

    sign_in(client, noted_town, "grid_admin")  # granted by the area on its community's subtree
    assert "凤凰第一网格的便条" in client.get(f"/notes/{inside}").get_data(as_text=True)
    assert client.get(f"/api/v1/notes/{inside}").get_json() == {"id": inside, "text": "凤凰第一网格的便条"}
    assert client.get(f"/notes/{outside}").status_code == 404  # outside the grant's subtree: invisible

    for role, status in (("district_admin", 200), ("auditor", 200), ("organiser", 404), ("volunteer", 404)):
        c = notes_app.test_client()
        sign_in(c, noted_town, role)
        assert c.get(f"/notes/{outside}").status_code == status, role

    # district_admin has every action by rule, auditor every read action; both include the new area's.
    assert "note.write" in access.actions_of("district_admin")
    assert "note.view" in access.actions_of("auditor") and "note.write" not in access.actions_of("auditor")
    # Its API route is on the app, under the API's rules, and its schema is registered for the document
    # (SpecTree builds the document once per process, from the routes of the app serving it).
    assert "/api/v1/notes/<int:note_id>" in {r.rule for r in notes_app.url_map.iter_rules()}
    from app.api.openapi import api

    assert any(name.endswith("NoteOut") for name in api.models)
    assert notes_app.extensions["areas"]["notes"].audit_labels


@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index")  # SQLite
@pytest.mark.filterwarnings("ignore:autogenerate skipping metadata-specified expression-based index")
def test_a_new_areas_models_are_known_to_alembic(notes_app, engine):
    # Alembic's env imports app/models.py, which imports model_modules(AREAS): a listed area's table
    # appears to autogenerate as a table to add.
    assert "tests.areas.notes.models" in model_modules([*AREAS, "tests.areas.notes"])
    with engine.connect() as conn:
        conn.execute(text("DROP TABLE test_notes"))
        conn.commit()
        diff = compare_metadata(MigrationContext.configure(conn), metadatas()[0])
        from tests.areas.notes.models import Note

        Note.__table__.create(conn)
        conn.commit()
    assert any(d[0] == "add_table" and d[1].name == "test_notes" for d in diff if isinstance(d, tuple))
    assert "test_notes" in Base.metadata.tables


def test_every_action_in_use_is_registered_and_unknown_actions_are_refused(app):
    with pytest.raises(ValueError):
        access.can(None, "no.such.action")
    with pytest.raises(ValueError):
        access.register_action("org.view", read=False)  # redefining an action another area owns


def test_the_standard_areas_are_installed(app):
    assert set(app.extensions["areas"]) == {a.rsplit(".", 1)[1] for a in AREAS}
