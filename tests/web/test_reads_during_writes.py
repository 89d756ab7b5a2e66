"""Page views only read: on SQLite they take no write lock, so they are served while another
transaction (an import, a large journal) holds it. On PostgreSQL this is true by design."""

from __future__ import annotations

import pytest

from tests.conftest import sign_in

pytestmark = pytest.mark.commits  # a second connection writes while the app reads


def test_pages_are_served_while_another_transaction_writes(app, client, town):
    sign_in(client, town, "grid_admin")
    engine = app.extensions["db_engine"]
    with engine.connect() as writer:
        writer.begin()  # on SQLite: BEGIN IMMEDIATE, the database's one write lock
        writer.exec_driver_sql(
            "UPDATE districts SET name = name WHERE id = ?"
            if engine.dialect.name == "sqlite"
            else "UPDATE districts SET name = name WHERE id = %s",
            (town.district.id,),
        )
        resp = client.get("/members/")
        assert resp.status_code == 200
        assert "李娜" in resp.get_data(as_text=True)
        assert client.get(f"/org/{town.grid_a1.id}").status_code == 200
        writer.rollback()
