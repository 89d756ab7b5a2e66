import re

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


def test_every_page_names_its_icon_and_the_icon_is_served(client):
    # Without it a browser asks for /favicon.ico on every first visit, gets a 404 and logs an error.
    html = client.get("/signin").get_data(as_text=True)
    href = re.search(r'<link rel="icon" type="image/svg\+xml" href="([^"]+)"', html).group(1)
    with client.get(href) as icon:
        assert icon.status_code == 200 and icon.mimetype == "image/svg+xml" and b"<svg" in icon.data
