"""The home page answers and lists the imported kits."""


def test_home_lists_kits(client):
    response = client.get("/")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "trousse-organismes" in page
