from tests.conftest import sign_in


def test_grid_admin_browses_members_and_grid(client, town):
    sign_in(client, town, "grid_admin")
    r = client.get("/members/")
    assert r.status_code == 200
    assert "李娜" in r.get_data(as_text=True)
    r = client.get(f"/org/{town.grid_a1.id}")
    assert r.status_code == 200, r.get_data(as_text=True)[:3000]
    r = client.get(f"/org/{town.grid_b1.id}")
    assert r.status_code == 404
