"""The exclusion-mask page and its form against the local stack (TestClient): the camera's last stored
frame to draw on, a saved mask becomes a new version in the masks table (once per form), history and
who saved it are shown, and bad rectangles, CSRF and camera ids are refused with the reason."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.stack


def _form(html: str) -> dict[str, str]:
    return {
        "csrf": re.search(r'name="csrf" value="([^"]+)"', html).group(1),
        "mask_id": re.search(r'name="mask_id" value="([^"]+)"', html).group(1),
    }


def test_mask_page_draws_on_the_last_stored_frame_and_is_linked_from_the_board(console) -> None:
    client, seeded, _, names = console
    board = client.get("/cameras").text
    assert f'href="/cameras/{seeded.camera_id}/mask"' in board
    page = client.get(f"/cameras/{seeded.camera_id}/mask")
    assert page.status_code == 200, page.text
    html = page.text
    assert 'id="mask-canvas"' in html and "/static/mask.js" in html
    assert f"/image?uri=gs%3A//{names.frames_bucket}/frames/{seeded.camera_id}/f5.png" in html  # the latest frame
    assert "no mask saved" in html
    assert client.get("/static/mask.js").status_code == 200


def test_saving_appends_a_version_once_per_form_and_the_page_shows_who(console) -> None:
    client, seeded, store, _ = console
    url = f"/cameras/{seeded.camera_id}/mask"
    form = _form(client.get(url).text)
    body = {**form, "rectangles": "[[0.1, 0.2, 0.5, 0.6]]", "note": "chimney"}
    for _ in range(2):  # a double click: the same form twice
        response = client.post(url, data=body, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == url
    rows = store.masks(seeded.camera_id)
    assert [(r["mask_version"], r["operator"], r["note"]) for r in rows] == [(1, "local", "chimney")]
    assert [dict(r) for r in rows[0]["rectangles"]] == [{"x_min": 0.1, "y_min": 0.2, "x_max": 0.5, "y_max": 0.6}]
    html = client.get(url).text
    assert "version 1</b>, 1 rectangle(s)" in html and "saved by <b>local</b>" in html
    assert "[[0.1, 0.2, 0.5, 0.6]]" in html  # the editor starts from the current mask
    second = _form(html)
    assert second["mask_id"] != form["mask_id"]
    assert client.post(url, data={**second, "rectangles": "[]"}, follow_redirects=False).status_code == 303
    current = store.current_mask(seeded.camera_id)
    assert current["mask_version"] == 2 and not current["rectangles"]  # cleared, as a new version
    assert store.masks("cam-other") == []  # another camera is unaffected


def test_bad_masks_and_posts_are_refused_with_the_reason(console) -> None:
    client, seeded, store, _ = console
    url = f"/cameras/{seeded.camera_id}/mask"
    form = _form(client.get(url).text)
    bad = client.post(url, data={**form, "rectangles": "[[0.6, 0.2, 0.5, 0.9]]"})
    assert bad.status_code == 400 and "rectangle 1" in bad.text
    assert client.post(url, data={**form, "rectangles": "[[0, 0, 2, 1]]"}).status_code == 400
    assert client.post(url, data={**form, "rectangles": "drop table"}).status_code == 400
    refused = client.post(url, data={**form, "csrf": "forged", "rectangles": "[]"})
    assert refused.status_code == 403
    cross = client.post(url, data={**form, "rectangles": "[]"}, headers={"origin": "http://evil.example"})
    assert cross.status_code == 403
    opaque = client.post(url, data={**form, "rectangles": "[]"}, headers={"origin": "null"})
    assert opaque.status_code == 403 and "opaque origin" in opaque.text
    assert client.get("/cameras/bad%20camera!/mask").status_code == 400
    # the camera page takes the pipeline's camera ids (1-128 characters), not any 300-character string
    too_long = client.get("/cameras/" + "c" * 129)
    assert too_long.status_code == 400 and "1-128" in too_long.text
    assert store.masks(seeded.camera_id) == []
