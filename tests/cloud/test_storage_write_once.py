"""Overlays are created, never overwritten: the real storage client over a fake transport
(issue 21, item 10). Workers hold roles/storage.objectCreator only; a retried bundle writes the
same overlay name again and must not need the overwrite (delete) permission."""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, urlparse

import requests
from google.auth.credentials import AnonymousCredentials
from google.auth.transport.requests import AuthorizedSession
from google.cloud import storage

from firewatch.cloud.storage import write_new_object


class FakeGCS(requests.adapters.BaseAdapter):
    """Answers uploads: 200 for a new name, 412 (conditionNotMet) when the name exists and the
    request asks ifGenerationMatch=0, 403 for an overwrite (objectCreator cannot delete)."""

    def __init__(self) -> None:
        super().__init__()
        self.objects: dict[str, bytes] = {}
        self.requests: list[requests.PreparedRequest] = []

    def send(self, request, **kwargs):
        response = requests.Response()
        response.headers["Content-Type"] = "application/json"
        response.url, response.request = request.url, request
        if "/upload/" not in request.url:  # the library's background bucket-metadata read: not ours to grant
            response.status_code = 403
            response._content = json.dumps({"error": {"code": 403, "message": "no storage.buckets.get"}}).encode()
            return response
        self.requests.append(request)
        query = parse_qs(urlparse(request.url).query)
        # a multipart upload: the object's metadata (its name) is the JSON part of the body
        name = (
            query["name"][0] if "name" in query else re.search(rb'"name": ?"([^"]+)"', request.body).group(1).decode()
        )
        if name in self.objects and query.get("ifGenerationMatch") == ["0"]:
            response.status_code = 412
            body = {
                "error": {
                    "code": 412,
                    "message": "At least one of the pre-conditions you specified did not hold.",
                    "errors": [{"reason": "conditionNotMet"}],
                }
            }
        elif name in self.objects:
            response.status_code = 403
            body = {
                "error": {
                    "code": 403,
                    "message": "does not have storage.objects.delete access",
                    "errors": [{"reason": "forbidden"}],
                }
            }
        else:
            self.objects[name] = request.body
            response.status_code = 200
            body = {"bucket": "frames", "name": name, "generation": "1"}
        response._content = json.dumps(body).encode()
        return response

    def close(self) -> None:
        pass


def client_over(fake: FakeGCS) -> storage.Client:
    session = AuthorizedSession(AnonymousCredentials())
    session.mount("https://", fake)
    return storage.Client(project="p", credentials=AnonymousCredentials(), _http=session)


def test_a_retried_overlay_write_is_already_there_not_a_403(monkeypatch):
    monkeypatch.delenv("STORAGE_EMULATOR_HOST", raising=False)  # the real endpoint, answered by the fake
    fake = FakeGCS()
    client = client_over(fake)
    uri = "gs://frames/explanations/v1/cam_1-abcd1234.png"
    assert write_new_object(uri, b"\x89PNG first", "image/png", client=client) is True
    assert write_new_object(uri, b"\x89PNG retry", "image/png", client=client) is False  # no exception
    assert list(fake.objects) == ["explanations/v1/cam_1-abcd1234.png"]
    for request in fake.requests:  # every upload is create-only
        query = parse_qs(urlparse(request.url).query)
        assert query["ifGenerationMatch"] == ["0"]
        assert urlparse(request.url).path == "/upload/storage/v1/b/frames/o"


def test_local_paths_are_written_as_before(tmp_path):
    target = tmp_path / "v1" / "frame.png"
    assert write_new_object(str(target), b"png", "image/png") is True
    assert target.read_bytes() == b"png"
