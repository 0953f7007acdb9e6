"""The IAM story, read from its two homes: docs/iam.md's table and infra/terraform's grants (python-hcl2),
both as (account, role, on) rows; and what `firewatch deploy`'s gcloud commands need, as
(principal, permission, on), against the permissions of the predefined roles Firewatch grants.

"on" is Terraform's name for the resource: `project`, `bucket dataflow`, `account workers`,
`topic alerts`, `tables feedback, masks`, ... (docs/iam.md explains the form)."""

from __future__ import annotations

import re
from pathlib import Path

from tests.deploy.test_terraform import DECL, LOCALS, RESOURCES, unq

REPO = Path(__file__).resolve().parents[2]
IAM_DOC = REPO / "docs" / "iam.md"

Row = tuple[str, str, str]  # (account, role, on)


def doc_rows(text: str | None = None) -> list[Row]:
    """The table of docs/iam.md: one (account, role, on) per row."""
    text = IAM_DOC.read_text() if text is None else text
    rows = []
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[1].startswith("roles/"):
            rows.append((cells[0], cells[1], normalise(cells[2])))
    return rows


def normalise(on: str) -> str:
    if on.startswith("tables "):
        return "tables " + ", ".join(sorted(t.strip() for t in on.removeprefix("tables ").split(",")))
    return on


def _ref(expr: str) -> tuple[str, str]:
    """`${google_storage_bucket.frames.name}` -> ("google_storage_bucket", "frames"); an instance of a
    for_each, `${google_bigquery_table.tables["alerts"].table_id}`, -> ("google_bigquery_table", "tables")."""
    match = re.fullmatch(r'\$\{(\w+)\.(\w+)(?:\["[^"]+"\])?\.\w+\}', expr)
    assert match, f"not a resource reference: {expr}"
    return match.group(1), match.group(2)


def _instance(expr: str) -> str:
    """The name a grant is on: the for_each key (`topics["dead-letters"]` -> dead-letters), else the resource's."""
    key = re.fullmatch(r'.*\["([^"]+)"\]\.\w+\}', expr)
    return key.group(1) if key else _ref(expr)[1]


def _attribute(expr: str, attribute: str) -> str:
    """The attribute's value; `${each.key}` is the instance's key, `${local.declaration.X.Y}` is read from
    infra/resources.json as Terraform reads it."""
    raw = unq(RESOURCES[_ref(expr)][attribute])
    if raw == "${each.key}":
        return re.fullmatch(r'.*\["([^"]+)"\]\.\w+\}', expr).group(1)
    if raw.startswith("${local.declaration.") and raw.endswith("}"):
        value = DECL
        for part in raw[len("${local.declaration.") : -1].split("."):
            value = value[part]
        return value
    return raw


def member_account(member: str, body: dict) -> str:
    if match := re.fullmatch(r"\$\{local\.(\w+)\}", member):
        return match.group(1).replace("_", "-")
    if match := re.fullmatch(r"serviceAccount:\$\{google_service_account\.(\w+)\.email\}", member):
        return match.group(1).replace("_", "-")
    if member == "serviceAccount:${google_project_service_identity.iap_agent.email}":
        return "iap-agent"
    if member == "${each.value}" and unq(body.get("for_each")) == "${var.console_operators}":
        return "operators"
    raise AssertionError(f"unknown member {member}")


def _for_each_local(body: dict) -> str:
    """The local a grant's `for_each` runs over: `${local.notify_secrets}` -> "notify_secrets". A map
    of resource references (the console's tables) is expanded by its caller; a set Terraform only
    knows from variables (the notifier's secrets) is named by its local: one row for all of them."""
    match = re.fullmatch(r"\$\{local\.(\w+)\}", unq(body.get("for_each", "")))
    assert match, f"for_each over something other than a local: {body.get('for_each')}"
    assert match.group(1) in LOCALS, f"no local {match.group(1)}"
    return match.group(1)


def grant_scope(rtype: str, body: dict) -> str:
    kind = rtype.removeprefix("google_").removesuffix("_iam_member")
    if kind == "project":
        condition = body.get("condition")
        if not condition:
            return "project"
        expression = unq(condition[0]["expression"])
        service = re.fullmatch(r'resource\.name\.endsWith\(\\?"/services/([-a-z0-9]+)\\?"\)', expression)
        assert service, f"unexpected condition {expression}"
        return f"project, only service {service.group(1)}"
    if kind == "iap_web":
        return "IAP web, project"
    if kind == "storage_bucket":
        return "bucket " + _ref(unq(body["bucket"]))[1]
    if kind == "pubsub_topic":
        return "topic " + _instance(unq(body["topic"]))
    if kind == "pubsub_subscription":
        return "subscription " + _instance(unq(body["subscription"]))
    if kind == "service_account":
        return "account " + _ref(unq(body["service_account_id"]))[1].replace("_", "-")
    if kind == "artifact_registry_repository":
        return "repository " + _attribute(unq(body["repository"]), "repository_id")
    if kind == "secret_manager_secret":
        if unq(body["secret_id"]) == "${each.value}":
            return "secrets " + _for_each_local(body)
        return "secret " + _ref(unq(body["secret_id"]))[1]
    if kind == "cloud_run_v2_service":
        return "service " + _ref(unq(body["name"]))[1]
    if kind == "bigquery_dataset":
        return "dataset " + _attribute(unq(body["dataset_id"]), "dataset_id")
    if kind == "bigquery_table":
        tables = [_attribute(ref, "table_id") for ref in LOCALS[_for_each_local(body)].values()]
        return normalise("tables " + ", ".join(tables))
    raise AssertionError(f"no scope rule for {rtype}")


def terraform_rows() -> list[Row]:
    rows = []
    for (rtype, _), body in RESOURCES.items():
        if rtype.endswith("_iam_member"):
            rows.append((member_account(unq(body["member"]), body), unq(body["role"]), grant_scope(rtype, body)))
    return rows


def acts_as(rtype: str, body: dict) -> str | None:
    """The account a resource runs or signs as, for which whoever creates it needs
    `iam.serviceAccounts.actAs`: a Cloud Run service's identity, a push subscription's OIDC account."""
    if rtype == "google_cloud_run_v2_service":
        email = unq(body["template"][0].get("service_account"))
    elif rtype == "google_pubsub_subscription" and "push_config" in body:
        email = unq(body["push_config"][0].get("oidc_token", [{}])[0].get("service_account_email"))
    else:
        return None
    assert email, f"{rtype} runs as Compute Engine's default account: name one of Firewatch's"
    return "account " + _ref(email)[1].replace("_", "-")


# --- what each predefined role allows (the permissions that matter here) -------------------------
# From Google's IAM roles and permissions index (cloud.google.com/iam/docs/roles-permissions/<service>).
ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "roles/dataflow.developer": frozenset(
        {
            "dataflow.jobs.create",
            "dataflow.jobs.get",
            "dataflow.jobs.list",
            "dataflow.jobs.updateContents",
            "dataflow.jobs.cancel",
            "dataflow.messages.list",
            "dataflow.metrics.get",
        }
    ),  # not compute.machineTypes.get: the Dataflow access-control guide adds Compute Viewer to create jobs
    "roles/compute.viewer": frozenset(
        {"compute.machineTypes.get", "compute.machineTypes.list", "compute.regions.get", "compute.zones.list"}
    ),
    "roles/cloudbuild.builds.editor": frozenset(
        {"cloudbuild.builds.create", "cloudbuild.builds.get", "cloudbuild.builds.list", "cloudbuild.builds.update"}
    ),
    "roles/run.admin": frozenset(
        {
            "run.services.create",
            "run.services.get",
            "run.services.update",
            "run.services.delete",
            "run.services.getIamPolicy",
            "run.services.setIamPolicy",
        }
    ),
    "roles/run.developer": frozenset(
        {"run.services.create", "run.services.get", "run.services.update", "run.services.delete"}
        | {"run.services.getIamPolicy"}
    ),  # no setIamPolicy: it cannot make a service public or put IAP in front of it
    "roles/run.invoker": frozenset({"run.routes.invoke"}),
    "roles/cloudscheduler.admin": frozenset(
        {"cloudscheduler.jobs.create", "cloudscheduler.jobs.get", "cloudscheduler.jobs.update"}
        | {"cloudscheduler.jobs.delete", "cloudscheduler.jobs.list", "cloudscheduler.jobs.run"}
    ),  # `gcloud scheduler jobs create http` of `firewatch vertex loop`
    "roles/storage.objectAdmin": frozenset(
        {"storage.objects.create", "storage.objects.get", "storage.objects.list", "storage.objects.delete"}
        | {"storage.objects.update"}
    ),  # no storage.buckets.get
    "roles/storage.objectCreator": frozenset({"storage.objects.create"}),
    "roles/storage.objectViewer": frozenset({"storage.objects.get", "storage.objects.list"}),
    "roles/storage.legacyBucketReader": frozenset({"storage.buckets.get", "storage.objects.list"}),
    "roles/iam.serviceAccountUser": frozenset(
        {"iam.serviceAccounts.actAs", "iam.serviceAccounts.get", "iam.serviceAccounts.list"}
    ),
    "roles/artifactregistry.reader": frozenset({"artifactregistry.repositories.downloadArtifacts"}),
    "roles/artifactregistry.writer": frozenset(
        {"artifactregistry.repositories.downloadArtifacts", "artifactregistry.repositories.uploadArtifacts"}
    ),
    "roles/secretmanager.secretAccessor": frozenset({"secretmanager.versions.access"}),
}

Need = tuple[str, str, str]  # (principal, permission, on)


class Names:
    """Terraform's resource names for the concrete names of one project's deploy commands."""

    def __init__(self, project: str) -> None:
        self.project = project
        self.buckets = {
            unq(body["name"]).replace("${var.project_id}", project): name
            for (rtype, name), body in RESOURCES.items()
            if rtype == "google_storage_bucket"
        }
        self.accounts = {
            f"{unq(body['account_id'])}@{project}.iam.gserviceaccount.com": name.replace("_", "-")
            for (rtype, name), body in RESOURCES.items()
            if rtype == "google_service_account"
        }
        self.repositories = {
            unq(body["repository_id"])
            for (rtype, _), body in RESOURCES.items()
            if rtype == "google_artifact_registry_repository"
        }
        self.secrets = {
            unq(body["secret_id"]): name
            for (rtype, name), body in RESOURCES.items()
            if rtype == "google_secret_manager_secret"
        }

    def bucket(self, uri: str) -> str:
        name = uri.removeprefix("gs://").split("/", 1)[0]
        return f"bucket {self.buckets.get(name, name)}"  # an unknown bucket: nobody is granted it

    def account(self, email: str) -> str:
        email = email.rsplit("/serviceAccounts/", 1)[-1]
        return self.accounts.get(email, email)

    def repository(self, image: str) -> str:
        host, project, repo = image.split("/")[:3]
        assert host.endswith("-docker.pkg.dev") and project == self.project, image
        return f"repository {repo}"


def flags(command: list[str]) -> dict[str, str]:
    out = {}
    for word in command:
        if word.startswith("--"):
            name, _, value = word.partition("=")
            out[name] = value
    return out


# Permission per gcloud call, as gcloud makes it (read in the Cloud SDK's own code where named).
def needs(command: list[str], names: Names, caller: str = "launcher") -> set[Need]:
    words = [w for w in command[1:] if not w.startswith("-")]
    given = flags(command)
    out: set[Need] = set()
    if words[:2] == ["builds", "submit"]:
        out |= {(caller, "cloudbuild.builds.create", "project"), (caller, "cloudbuild.builds.get", "project")}
        # submit_util.SetSource: storage_api.CreateBucketIfNotExists(staging bucket) Gets the bucket
        # first (storage.buckets.get), creating it when absent; then uploads the source tarball.
        staging = given.get("--gcs-source-staging-dir")
        if staging is None:  # gs://PROJECT_cloudbuild/source: created on first use
            out |= {(caller, "storage.buckets.create", "project")}
            staging = f"gs://{names.project}_cloudbuild/source"
        out |= {(caller, "storage.buckets.get", names.bucket(staging))}
        out |= {(caller, "storage.objects.create", names.bucket(staging))}
        # api_lib/cloudbuild/logs.GCSLogTailer reads gs://LOGS/log-ID.txt; without --gcs-log-dir that is
        # Google's PROJECT_NUMBER.cloudbuild-logs bucket, readable by project Viewers only.
        logs = given.get("--gcs-log-dir", "gs://PROJECT_NUMBER.cloudbuild-logs.googleusercontent.com")
        out |= {(caller, "storage.objects.get", names.bucket(logs))}
        if "--service-account" in given:  # the build runs as that account
            builder = names.account(given["--service-account"])
            out |= {(caller, "iam.serviceAccounts.actAs", f"account {builder}")}
            out |= {(builder, "storage.objects.get", names.bucket(staging))}  # fetches the source
            out |= {(builder, "storage.objects.create", names.bucket(logs))}  # writes the log
            pushes = "artifactregistry.repositories.uploadArtifacts"
            out |= {(builder, pushes, f"repository {repo}") for repo in names.repositories}
    elif words[:3] == ["dataflow", "flex-template", "build"]:
        # api_lib/dataflow/apis.Templates._StoreFlexTemplateFile: CopyFileToGCS (replaces the last spec)
        spec = names.bucket(words[3])
        out |= {(caller, "storage.objects.create", spec), (caller, "storage.objects.delete", spec)}
    elif words[:3] == ["dataflow", "flex-template", "run"]:
        # Dataflow access control: creating a job needs dataflow.jobs.create and reads machine types.
        out |= {(caller, "dataflow.jobs.create", "project"), (caller, "compute.machineTypes.get", "project")}
        out |= {(caller, "storage.objects.get", names.bucket(given["--template-file-gcs-location"]))}
        for location in ("--staging-location", "--temp-location"):
            out |= {(caller, "storage.objects.create", names.bucket(given[location]))}
        if "--update" in given:
            out |= {(caller, "dataflow.jobs.get", "project"), (caller, "dataflow.jobs.updateContents", "project")}
        workers = names.account(given["--service-account-email"])
        out |= {(caller, "iam.serviceAccounts.actAs", f"account {workers}")}
        # The job runs as the workers: it pulls the image, reads the spec, stages, loads the model.
        params = dict(p.split("=", 1) for p in given["--parameters"].removeprefix("^~^").split("~"))
        image = names.repository(params["sdk_container_image"])
        out |= {(workers, "artifactregistry.repositories.downloadArtifacts", image)}
        out |= {(workers, "storage.objects.get", names.bucket(given["--template-file-gcs-location"]))}
        out |= {(workers, "storage.objects.create", names.bucket(given["--temp-location"]))}
        out |= {(workers, "storage.objects.get", names.bucket(params["model"]))}
    elif words[:3] == ["dataflow", "jobs", "drain"]:
        # jobs.update with requestedState JOB_STATE_DRAINED
        out |= {(caller, "dataflow.jobs.get", "project"), (caller, "dataflow.jobs.updateContents", "project")}
    elif words[:3] == ["beta", "run", "deploy"]:
        out |= {(caller, p, "project") for p in ("run.services.create", "run.services.get", "run.services.update")}
        console = names.account(given["--service-account"])
        out |= {(caller, "iam.serviceAccounts.actAs", f"account {console}")}
        if {"--iap", "--allow-unauthenticated", "--no-allow-unauthenticated"} & set(given):
            out |= {(caller, "run.services.setIamPolicy", "project")}
        if "--set-secrets" in given:
            for binding in given["--set-secrets"].split(","):
                secret = binding.split("=", 1)[1].split(":", 1)[0]
                out |= {(console, "secretmanager.versions.access", f"secret {names.secrets.get(secret, secret)}")}
        if "--iap" in given:  # IAP's service agent calls the service
            out |= {("iap-agent", "run.routes.invoke", f"service {command[4]}")}
    elif words[:2] == ["storage", "cp"]:
        # command_lib/storage/tasks/cp/copy_task_iterator: the destination is expanded (get, list) first.
        destination = names.bucket(words[-1])
        out |= {(caller, p, destination) for p in ("storage.objects.create", "storage.objects.get")}
        out |= {(caller, "storage.objects.list", destination)}
    elif words[:3] == ["dataflow", "jobs", "list"]:
        out |= {(caller, "dataflow.jobs.list", "project")}
    else:
        raise AssertionError(f"no permission rule for gcloud {' '.join(words[:3])}: add one")
    return out


def missing(required: set[Need], rows: list[Row]) -> set[Need]:
    """The needs no row grants (a project-level role covers every resource in the project)."""
    left = set()
    for principal, permission, on in required:
        if not any(
            account == principal and permission in ROLE_PERMISSIONS.get(role, ()) and scope in (on, "project")
            for account, role, scope in rows
        ):
            left.add((principal, permission, on))
    return left
