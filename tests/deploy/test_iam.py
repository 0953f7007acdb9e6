"""One IAM story (issue 21): docs/iam.md's table of accounts, roles and reasons is exactly what
infra/terraform grants, and every gcloud call `firewatch deploy --dry-run` prints needs no permission
that Terraform does not grant the launcher (or the accounts the calls act as). The permission per call
and per role are small hand-written tables in tests/deploy/iam_model.py, from gcloud's code and
Google's IAM docs."""

from __future__ import annotations

import shlex

import pytest

from firewatch.cli import main
from tests.deploy.iam_model import (
    RESOURCES,
    ROLE_PERMISSIONS,
    Names,
    acts_as,
    doc_rows,
    missing,
    needs,
    terraform_rows,
)

PROJECT = "my-proj"
MODEL = f"gs://{PROJECT}-firewatch-models/v3"
DEPLOYS = {
    "build": ["build"],
    "build-gpu": ["build", "--gpu"],
    "run-streaming": ["run", "--model", MODEL],
    "run-batch": ["run", "--job", "batch", "--model", MODEL, "--param", "input=gs://x/*.jpg"],
    "run-gpu": ["run", "--gpu", "--model", MODEL],
    "update": ["update", "--model", MODEL],
    "drain": ["drain", "2026-12-03_01_02_03-123"],
    "console-iap": ["console", "--identity", "iap"],
    "console-tokens": ["console", "--identity", "tokens"],
}


def dry_run(argv: list[str], capsys) -> list[list[str]]:
    assert main(["deploy", *argv, "--project", PROJECT, "--dry-run"]) == 0
    printed = [shlex.split(line[2:]) for line in capsys.readouterr().out.splitlines() if line.startswith("$ ")]
    assert printed and all(command[0] == "gcloud" for command in printed)
    return printed


def test_the_table_in_docs_is_what_terraform_grants():
    table = doc_rows()
    assert len(table) == len(set(table)), "a row twice"
    granted = terraform_rows()
    assert len(granted) == len(set(granted)), "a grant twice"
    documented = {row for row in table if row[0] != "deployer"}
    assert documented - set(granted) == set(), "in docs/iam.md, not granted by Terraform"
    assert set(granted) - documented == set(), "granted by Terraform, missing from docs/iam.md"
    accounts = {row[0] for row in table}
    expected = {"deployer", "launcher", "builder", "workers", "console", "cameras", "alert-consumers", "notifier"}
    assert expected <= accounts
    roles = {row[1] for row in table}
    assert not roles & {"roles/owner", "roles/editor", "roles/viewer"}, "no primitive roles"


def test_the_table_parser_sees_a_change():
    text = "| launcher | roles/run.developer | project | deploys |\n| x | y | z | w |\n"
    assert doc_rows(text) == [("launcher", "roles/run.developer", "project")]
    assert ("launcher", "roles/run.developer", "project") not in terraform_rows()


# Which of the deployer's roles creates each kind of Terraform resource (and its IAM members).
CREATED_WITH = {
    "google_project_service": "roles/serviceusage.serviceUsageAdmin",
    "google_project_service_identity": "roles/serviceusage.serviceUsageAdmin",
    "google_service_account": "roles/iam.serviceAccountAdmin",
    "google_service_account_iam_member": "roles/iam.serviceAccountAdmin",
    "google_project_iam_member": "roles/resourcemanager.projectIamAdmin",
    "google_storage_bucket": "roles/storage.admin",
    "google_storage_bucket_iam_member": "roles/storage.admin",
    "google_bigquery_dataset": "roles/bigquery.admin",
    "google_bigquery_dataset_iam_member": "roles/bigquery.admin",
    "google_bigquery_table": "roles/bigquery.admin",
    "google_bigquery_table_iam_member": "roles/bigquery.admin",
    "google_pubsub_topic": "roles/pubsub.admin",
    "google_pubsub_topic_iam_member": "roles/pubsub.admin",
    "google_pubsub_subscription": "roles/pubsub.admin",
    "google_pubsub_subscription_iam_member": "roles/pubsub.admin",
    "google_artifact_registry_repository": "roles/artifactregistry.admin",
    "google_artifact_registry_repository_iam_member": "roles/artifactregistry.admin",
    "google_secret_manager_secret": "roles/secretmanager.admin",
    "google_secret_manager_secret_iam_member": "roles/secretmanager.admin",
    "google_iap_web_iam_member": "roles/iap.admin",
    "google_cloud_run_v2_service": "roles/run.admin",
    "google_cloud_run_v2_service_iam_member": "roles/run.admin",
}
# Creating a resource that runs or signs as a service account (the notifier's service and its push
# subscription's OIDC token) also needs iam.serviceAccounts.actAs on it, which no role above has.
ACTS_AS = "roles/iam.serviceAccountUser"


def test_the_deployer_can_create_every_resource_terraform_declares():
    deployer = {role for account, role, on in doc_rows() if account == "deployer" and on == "project"}
    for rtype in {t for t, _ in RESOURCES}:
        assert rtype in CREATED_WITH, f"which deployer role creates {rtype}? add it here and to docs/iam.md"
        assert CREATED_WITH[rtype] in deployer, f"{rtype} needs {CREATED_WITH[rtype]}, not in docs/iam.md"
    acting = {(rtype, name): acts_as(rtype, body) for (rtype, name), body in RESOURCES.items()}
    acting = {resource: account for resource, account in acting.items() if account}
    assert acting == {
        ("google_cloud_run_v2_service", "notify"): "account notifier",
        ("google_pubsub_subscription", "notify"): "account notifier",
    }
    assert "iam.serviceAccounts.actAs" in ROLE_PERMISSIONS[ACTS_AS] and ACTS_AS in deployer
    assert set(CREATED_WITH.values()) | {ACTS_AS} == deployer, "a deployer role no resource needs"


@pytest.mark.parametrize("deploy", sorted(DEPLOYS))
def test_deploy_dry_run_needs_nothing_terraform_does_not_grant(deploy, capsys):
    names = Names(PROJECT)
    required = set().union(*(needs(command, names) for command in dry_run(DEPLOYS[deploy], capsys)))
    assert {principal for principal, _, _ in required} >= {"launcher"}
    assert missing(required, terraform_rows()) == set()


def test_every_role_of_the_accounts_deploy_uses_has_its_permissions_listed():
    for account, role, _ in terraform_rows():
        if account in ("launcher", "builder"):
            assert role in ROLE_PERMISSIONS, f"{account}: list the permissions of {role} in iam_model.py"


def test_the_check_finds_what_the_old_grants_lacked(capsys):
    """The issue's findings, as the checker sees them: with Cloud Run Developer instead of Admin, no
    Compute Viewer and gcloud's default source and log buckets, deploys fail for want of permissions."""
    names = Names(PROJECT)
    rows = terraform_rows()
    renamed = {"roles/run.admin": "roles/run.developer"}
    old = [(a, renamed.get(r, r), o) for a, r, o in rows if r != "roles/compute.viewer"]
    console = set().union(*(needs(c, names) for c in dry_run(DEPLOYS["console-iap"], capsys)))
    assert ("launcher", "run.services.setIamPolicy", "project") in missing(console, old)
    run = set().union(*(needs(c, names) for c in dry_run(DEPLOYS["run-streaming"], capsys)))
    assert missing(run, old) == {("launcher", "compute.machineTypes.get", "project")}
    (build, *_) = dry_run(DEPLOYS["build"], capsys)
    plain = [w for w in build if not w.startswith(("--gcs-", "--service-account"))]
    lacking = missing(needs(plain, names), rows)
    assert ("launcher", "storage.buckets.create", "project") in lacking
    assert ("launcher", "storage.objects.get", "bucket PROJECT_NUMBER.cloudbuild-logs.googleusercontent.com") in lacking
