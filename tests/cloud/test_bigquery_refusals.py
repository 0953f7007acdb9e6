"""insertAll's refusals, answered by a fake HTTP transport under the real BigQuery client: a 403 is
a rate limit, a quota or an access error depending on its reason (issue 21, item 5)."""

from __future__ import annotations

import json

import pytest
import requests
from google.auth.credentials import AnonymousCredentials
from google.auth.transport.requests import AuthorizedSession
from google.cloud import bigquery

from firewatch.cloud.bigquery_rows import BigQueryAccessError, RowWriter

TABLE = "proj.ds.predictions"
ROWS = [{"frame_key": "cam/1", "_row_id": "id-1"}, {"frame_key": "cam/2", "_row_id": "id-2"}]


def error_body(code: int, reason: str) -> dict:
    message = f"{reason}: test"
    return {"error": {"code": code, "message": message, "errors": [{"reason": reason, "message": message}]}}


class FakeBigQuery(requests.adapters.BaseAdapter):
    """Answers each insertAll with the next (status, body) of a script; records the requests."""

    def __init__(self, answers: list[tuple[int, dict]]) -> None:
        super().__init__()
        self.answers = list(answers)
        self.requests: list[requests.PreparedRequest] = []

    def send(self, request, **kwargs):
        self.requests.append(request)
        status, body = self.answers.pop(0) if self.answers else (200, {"kind": "bigquery#tableDataInsertAllResponse"})
        response = requests.Response()
        response.status_code = status
        response._content = json.dumps(body).encode()
        response.headers["Content-Type"] = "application/json"
        response.url = request.url
        response.request = request
        return response

    def close(self) -> None:
        pass


def client_over(fake: FakeBigQuery) -> bigquery.Client:
    """The real client, its HTTP answered by `fake`."""
    session = AuthorizedSession(AnonymousCredentials())
    session.mount("https://", fake)
    return bigquery.Client(project="proj", credentials=AnonymousCredentials(), _http=session)


def writer(answers: list[tuple[int, dict]]) -> tuple[RowWriter, FakeBigQuery]:
    fake = FakeBigQuery(answers)
    client = client_over(fake)
    return RowWriter(TABLE, client=client, validate=False, max_attempts=None, initial_backoff=0.001), fake


@pytest.mark.parametrize("reason", ["rateLimitExceeded", "quotaExceeded", "backendError"])
def test_a_403_or_5xx_that_waiting_fixes_is_retried_and_the_rows_are_written(reason):
    status = 500 if reason == "backendError" else 403
    rows_writer, fake = writer([(status, error_body(status, reason)), (status, error_body(status, reason))])
    assert rows_writer.write_or_reject(ROWS) == []
    assert len(fake.requests) == 3  # two refusals, then the insert that went through
    sent = json.loads(fake.requests[-1].body)
    assert [r["insertId"] for r in sent["rows"]] == ["id-1", "id-2"]  # the same ids: no duplicates
    assert fake.requests[-1].url.endswith("/projects/proj/datasets/ds/tables/predictions/insertAll?prettyPrint=false")


@pytest.mark.parametrize("reason", ["accessDenied", "billingNotEnabled", "responseTooLarge"])
def test_a_403_for_access_fails_loudly_and_rejects_no_row(reason):
    rows_writer, fake = writer([(403, error_body(403, reason))])
    with pytest.raises(BigQueryAccessError, match=reason):
        rows_writer.write_or_reject(ROWS)
    assert len(fake.requests) == 1  # not retried in a loop: the runner retries the bundle


def test_only_a_rows_own_fault_rejects_it():
    """A 400 `invalid` refuses the rows (dead letters); per-row `invalid` errors reject those rows only."""
    rows_writer, _ = writer([(400, error_body(400, "invalid"))])
    rejected = rows_writer.write_or_reject(ROWS)
    assert [r.row["frame_key"] for r in rejected] == ["cam/1", "cam/2"]
    assert {r.error_type for r in rejected} == {"BadRequest"}

    per_row = {
        "kind": "bigquery#tableDataInsertAllResponse",
        "insertErrors": [{"index": 1, "errors": [{"reason": "invalid", "message": "no such field: x"}]}],
    }
    rows_writer, fake = writer([(200, per_row)])
    rejected = rows_writer.write_or_reject(ROWS)
    assert [(r.row["frame_key"], r.error_type) for r in rejected] == [("cam/2", "bigquery_rejected")]
    assert len(fake.requests) == 1


def test_a_rate_limited_schema_read_is_retried_and_an_access_refusal_raises():
    schema = {"tableReference": {"projectId": "proj", "datasetId": "ds", "tableId": "predictions"}}
    schema["schema"] = {"fields": [{"name": "frame_key", "type": "STRING", "mode": "NULLABLE"}]}
    fake = FakeBigQuery([(403, error_body(403, "rateLimitExceeded")), (200, schema)])
    client = client_over(fake)
    rows_writer = RowWriter(TABLE, client=client, max_attempts=None, initial_backoff=0.001)
    assert rows_writer.schema == [{"name": "frame_key", "type": "STRING", "mode": "NULLABLE"}]

    fake = FakeBigQuery([(403, error_body(403, "accessDenied"))])
    client = client_over(fake)
    with pytest.raises(BigQueryAccessError):
        _ = RowWriter(TABLE, client=client, max_attempts=None, initial_backoff=0.001).schema
