"""The one place Google Cloud clients are made (emulators or a real project, same code).

When the local stack's variables are set (`firewatch stack up` writes them to `.firewatch/stack.env`):
- BigQuery: `FIREWATCH_BIGQUERY_ENDPOINT` → anonymous credentials + that API endpoint;
- GCS: `STORAGE_EMULATOR_HOST` → anonymous credentials (the library reads the endpoint itself);
- Pub/Sub: `PUBSUB_EMULATOR_HOST` is honoured by the library itself.
Otherwise the clients use Application Default Credentials against the real services.
Heavy libraries are imported inside the functions, so importing this module is cheap.
"""

from __future__ import annotations

import os
from typing import Any

EMULATOR_VARS = ("PUBSUB_EMULATOR_HOST", "STORAGE_EMULATOR_HOST", "FIREWATCH_BIGQUERY_ENDPOINT")
PROJECT_VARS = ("FIREWATCH_PROJECT", "GOOGLE_CLOUD_PROJECT", "CLOUDSDK_CORE_PROJECT")


def using_emulators() -> bool:
    """True when any emulator endpoint is configured in the environment."""
    return any(os.environ.get(var) for var in EMULATOR_VARS)


def bigquery_endpoint() -> str | None:
    return os.environ.get("FIREWATCH_BIGQUERY_ENDPOINT") or None


def project_id(explicit: str | None = None) -> str:
    """The project: `explicit`, else $FIREWATCH_PROJECT / $GOOGLE_CLOUD_PROJECT / $CLOUDSDK_CORE_PROJECT,
    else the Application Default Credentials' project (real GCP only)."""
    if explicit:
        return explicit
    for var in PROJECT_VARS:
        if os.environ.get(var):
            return os.environ[var]
    if not using_emulators():
        try:
            import google.auth
            import google.auth.exceptions

            _, project = google.auth.default()
        except google.auth.exceptions.DefaultCredentialsError:
            project = None
        if project:
            return str(project)
    from firewatch.errors import UserError

    raise UserError(
        "no Google Cloud project configured: pass --project, set FIREWATCH_PROJECT, "
        "or run `firewatch stack up` for the local emulators."
    )


def _anonymous() -> Any:
    from google.auth.credentials import AnonymousCredentials

    return AnonymousCredentials()


def bigquery_client(project: str | None = None) -> Any:
    """A google.cloud.bigquery.Client for the emulator (FIREWATCH_BIGQUERY_ENDPOINT) or real BigQuery."""
    from google.cloud import bigquery

    endpoint = bigquery_endpoint()
    if endpoint:
        return bigquery.Client(
            project=project_id(project),
            credentials=_anonymous(),
            client_options={"api_endpoint": endpoint},
        )
    return bigquery.Client(project=project_id(project))


def storage_client(project: str | None = None) -> Any:
    """A google.cloud.storage.Client for the emulator (STORAGE_EMULATOR_HOST) or real GCS."""
    from google.cloud import storage

    if os.environ.get("STORAGE_EMULATOR_HOST"):
        return storage.Client(project=project_id(project), credentials=_anonymous())
    return storage.Client(project=project_id(project))


def publisher_client(**kwargs: Any) -> Any:
    """A Pub/Sub PublisherClient (PUBSUB_EMULATOR_HOST is honoured by the library)."""
    from google.cloud import pubsub_v1

    return pubsub_v1.PublisherClient(**kwargs)


def subscriber_client(**kwargs: Any) -> Any:
    """A Pub/Sub SubscriberClient (PUBSUB_EMULATOR_HOST is honoured by the library)."""
    from google.cloud import pubsub_v1

    return pubsub_v1.SubscriberClient(**kwargs)


def prepare_beam_offline_auth() -> bool:
    """With emulators configured, tell Beam there are no credentials (instead of ~20 s of retries).

    Beam's gs:// filesystem (and its BigQuery/Pub/Sub helpers) first call `google.auth.default()`
    with retries before going anonymous. Seeding Beam's credential cache with "none" makes the
    emulator path instant. Does nothing (returns False) against real GCP. Per process: call it in
    the launcher and, for multi-process runners, in DoFn.setup().
    """
    if not using_emulators():
        return False
    from apache_beam.internal.gcp import auth

    with auth._Credentials._credentials_lock:
        auth._Credentials._credentials = None
        auth._Credentials._credentials_init = True
    return True
