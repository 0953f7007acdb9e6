"""infra/terraform, parsed with python-hcl2 (no terraform binary or providers here), declares the
same topics, subscriptions, dataset, tables (from the same schema files), partitioning,
clustering and frames bucket as infra/resources.json, the names `firewatch deploy` uses, and one
service account per role with least-privilege roles; checkov reports no unjustified finding."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import hcl2
import pytest

from infra.deploy import DeployConfig
from infra.resources import ResourceNames

REPO = Path(__file__).resolve().parents[2]
TF = REPO / "infra" / "terraform"
DECL = json.loads((REPO / "infra" / "resources.json").read_text())
CHECKOV = REPO / ".venv-checkov" / "bin" / "checkov"


def unq(value):
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    if isinstance(value, list):
        return [unq(v) for v in value]
    return value


def load() -> tuple[dict[tuple[str, str], dict], dict[str, str]]:
    resources, local_values = {}, {}
    for path in sorted(TF.glob("*.tf")):
        with path.open() as handle:
            parsed = hcl2.load(handle)
        for block in parsed.get("resource", []):
            for rtype, named in block.items():
                for name, body in named.items():
                    resources[(unq(rtype), unq(name))] = body
        for block in parsed.get("locals", []):
            local_values.update({k: unq(v) for k, v in block.items() if not k.startswith("__")})
    return resources, local_values


RESOURCES, LOCALS = load()


def load_variables() -> dict[str, dict]:
    out = {}
    for path in sorted(TF.glob("*.tf")):
        with path.open() as handle:
            for block in hcl2.load(handle).get("variable", []):
                out.update({unq(k): {key: unq(v) for key, v in body.items()} for k, body in block.items()})
    return out


VARIABLES = load_variables()


def of_type(rtype: str) -> dict[str, dict]:
    return {name: body for (t, name), body in RESOURCES.items() if t == rtype}


def value(body: dict, key: str):
    raw = body[key]
    if isinstance(raw, str) and raw.startswith("${local.") and raw.endswith("}"):
        return LOCALS[raw[8:-1]]
    return unq(raw)


def block(body: dict, key: str) -> dict:
    return {k: unq(v) for k, v in body[key][0].items() if not k.startswith("__")}


def topic_ref(name: str) -> str:
    """How the .tf files point at a declared topic: its instance of the for_each, by name."""
    return f'${{google_pubsub_topic.topics["{name}"].id}}'


def subscription_instances() -> dict[str, dict]:
    """Every subscription by name, the for_each over local.pull_subscriptions expanded as Terraform would:
    one instance per declared subscription without a dead-letter topic or a push endpoint."""
    assert LOCALS["pull_subscriptions"] == (
        "${{for key, sub in local.declaration.subscriptions : sub.name => sub "
        "if !can(sub.dead_letter_topic) && !can(sub.push_on_cloud)}}"
    )
    out = {}
    for body in of_type("google_pubsub_subscription").values():
        if "for_each" not in body:
            out[value(body, "name")] = body
            continue
        assert unq(body["for_each"]) == "${local.pull_subscriptions}" and unq(body["name"]) == "${each.key}"
        assert unq(body["topic"]) == "${google_pubsub_topic.topics[local.declaration.topics[each.value.topic].name].id}"
        assert unq(body["ack_deadline_seconds"]) == "${each.value.ack_deadline_seconds}"
        assert unq(body["message_retention_duration"]) == "${each.value.retention_seconds}s"
        for spec in DECL["subscriptions"].values():
            if "dead_letter_topic" not in spec and "push_on_cloud" not in spec:
                out[spec["name"]] = {
                    **body,
                    "topic": topic_ref(DECL["topics"][spec["topic"]]["name"]),
                    "ack_deadline_seconds": spec["ack_deadline_seconds"],
                    "message_retention_duration": f"{spec['retention_seconds']}s",
                }
    return out


def test_topics_and_subscriptions_match_the_declaration():
    # The topics are the declared ones (for_each over infra/resources.json), the subscriptions the same
    # as declared, no more, no fewer (`firewatch infra apply` creates the declared ones).
    (topic,) = of_type("google_pubsub_topic").values()
    assert LOCALS["topics"] == "${{for key, topic in local.declaration.topics : topic.name => topic}}"
    assert unq(topic["for_each"]) == "${local.topics}" and unq(topic["name"]) == "${each.key}"
    assert value(topic, "message_retention_duration") == "604800s"
    subs = subscription_instances()
    assert {spec["name"] for spec in DECL["subscriptions"].values()} == set(subs)
    for spec in DECL["subscriptions"].values():
        body = subs[spec["name"]]
        if "dead_letter_topic" in spec:
            policy = block(body, "dead_letter_policy")
            target = DECL["topics"][spec["dead_letter_topic"]]["name"]
            assert policy["dead_letter_topic"] == topic_ref(target)
            attempts = unq(policy["max_delivery_attempts"]).removeprefix("${var.").removesuffix("}")
            assert VARIABLES[attempts]["default"] == spec["max_delivery_attempts"]
            retry = block(body, "retry_policy")
            assert retry == {
                "minimum_backoff": f"{spec['minimum_backoff_seconds']}s",
                "maximum_backoff": f"{spec['maximum_backoff_seconds']}s",
            }
        else:
            assert "dead_letter_policy" not in body and "retry_policy" not in body, spec["name"]
    for spec in DECL["subscriptions"].values():
        body = subs[spec["name"]]
        topic_name = DECL["topics"][spec["topic"]]["name"]
        assert body["topic"] == topic_ref(topic_name), spec["name"]
        assert value(body, "ack_deadline_seconds") == spec["ack_deadline_seconds"]
        assert value(body, "message_retention_duration") == f"{spec['retention_seconds']}s" == "604800s"
        # The notifier's subscription is a push one on Google Cloud (its Cloud Run service), pulled locally.
        assert ("push_config" in body) == ("push_on_cloud" in spec), spec["name"]
    assert all(block(body, "expiration_policy") == {"ttl": ""} for body in subs.values())
    dead_letter = block(subs[DECL["subscriptions"]["alerts_subscription"]["name"]], "dead_letter_policy")
    target = dead_letter["dead_letter_topic"]
    assert target == topic_ref(DECL["topics"]["alerts_undeliverable_topic"]["name"]) != topic_ref("alerts")
    members = {(unq(b["role"]), b["topic"]) for b in of_type("google_pubsub_topic_iam_member").values()}
    assert ("roles/pubsub.publisher", target) in members  # Pub/Sub's agent


def test_dataset_and_tables_use_the_same_schema_files_partitioning_and_clustering():
    # Terraform reads infra/resources.json itself (jsondecode + for_each): no table is written out by hand.
    (dataset,) = of_type("google_bigquery_dataset").values()
    assert LOCALS["declaration"] == '${jsondecode(file("${path.module}/../resources.json"))}'
    assert unq(dataset["dataset_id"]) == "${local.declaration.dataset.name}"
    assert unq(dataset["location"]) == "${var.bigquery_location}"
    assert VARIABLES["bigquery_location"]["default"] == DECL["location"] == ResourceNames().location
    (table,) = of_type("google_bigquery_table").values()
    assert LOCALS["tables"] == "${{for key, table in local.declaration.tables : table.name => table}}"
    assert unq(table["for_each"]) == "${local.tables}" and unq(table["table_id"]) == "${each.key}"
    assert unq(table["schema"]) == '${file("${path.module}/../${each.value.schema}")}'
    assert block(table, "time_partitioning") == {"type": "DAY", "field": "${each.value.partition_field}"}
    assert unq(table["clustering"]) == "${each.value.clustering}"
    for spec in DECL["tables"].values():
        fields = {f["name"] for f in json.loads((REPO / "infra" / spec["schema"]).read_text())}
        assert {spec["partition_field"], *spec["clustering"]} <= fields, spec["name"]
    assert {p.name for p in (REPO / "infra" / "schemas").glob("*.json")} == {
        Path(s["schema"]).name for s in DECL["tables"].values()
    }


def test_the_tables_and_topics_once_declared_one_by_one_are_moved_not_recreated():
    # An existing deployment's tables keep their data (and topics their messages): each old address is moved.
    moved = []
    for path in sorted(TF.glob("*.tf")):
        with path.open() as handle:
            moved += [{k: unq(v) for k, v in b.items()} for b in hcl2.load(handle).get("moved", [])]
    pairs = {m["from"].strip("${}"): m["to"].strip("${}") for m in moved}
    names = [spec["name"] for spec in DECL["tables"].values()]
    old_topics = {"frames", "alerts", "dead_letters", "alerts_undeliverable", "notify_undeliverable"}
    old_pulls = {"frames", "dead_letters", "console_alerts", "alerts_undeliverable", "notify_undeliverable"}

    def pull_name(old: str) -> str:
        return old.replace("_", "-") + "-sub"

    assert pairs == {
        **{f"google_bigquery_table.{n}": f'google_bigquery_table.tables["{n}"]' for n in names},
        **{f"google_pubsub_topic.{t}": f'google_pubsub_topic.topics["{t.replace("_", "-")}"]' for t in old_topics},
        **{f"google_pubsub_subscription.{s}": f'google_pubsub_subscription.pull["{pull_name(s)}"]' for s in old_pulls},
    }


def test_buckets_follow_the_names_the_jobs_and_deploy_derive():
    buckets = {name: value(b, "name") for name, b in of_type("google_storage_bucket").items()}
    frames = DECL["buckets"]["frames_bucket"]["name"]
    assert buckets["frames"] == f"${{var.project_id}}-{frames}"  # ScoringConfig.frames_bucket's default
    # Every bucket is declared in both, named <project>-<declared name> on a real project.
    on_project = ResourceNames(project="my-proj-1").on_project()
    assert sorted(buckets.values()) == sorted(
        f"${{var.project_id}}-{spec['name']}" for spec in DECL["buckets"].values()
    )
    assert sorted(b.replace("${var.project_id}", "my-proj-1") for b in buckets.values()) == sorted(
        getattr(on_project, key) for key in DECL["buckets"]
    )
    deploy = DeployConfig(project="PROJECT")
    assert buckets["dataflow"].replace("${var.project_id}", "PROJECT") == deploy.dataflow_bucket
    assert buckets["builds"].replace("${var.project_id}", "PROJECT") == deploy.builds_bucket
    for name, body in of_type("google_storage_bucket").items():
        assert body["uniform_bucket_level_access"] is True and value(body, "public_access_prevention") == "enforced"
        assert body.get("lifecycle_rule"), f"bucket {name} has no lifecycle rule"
    for name, body in of_type("google_storage_bucket").items():
        assert unq(body["location"]) == "${var.region}", name
    for name in ("dataflow", "builds"):  # temp, staging, sources, logs: Beam warns on soft delete there
        assert block(of_type("google_storage_bucket")[name], "soft_delete_policy") == {"retention_duration_seconds": 0}
    assert VARIABLES["region"]["default"] == DECL["bucket_location"] == ResourceNames().bucket_location
    (repo,) = of_type("google_artifact_registry_repository").values()
    assert value(repo, "repository_id") == deploy.repository and value(repo, "format") == "DOCKER"


def test_one_service_account_per_role_with_additive_grants_only():
    # Which role each account holds, and why, is docs/iam.md's table; test_iam.py keeps it and Terraform equal.
    accounts = {name: value(b, "account_id") for name, b in of_type("google_service_account").items()}
    assert accounts == {
        "launcher": "firewatch-launcher",
        "builder": "firewatch-builder",
        "workers": "firewatch-workers",
        "cameras": "firewatch-cameras",
        "alert_consumers": "firewatch-alert-consumers",
        "console": "firewatch-console",
        "notifier": "firewatch-notifier",
        "loop": "firewatch-loop",
        "scheduler": "firewatch-scheduler",
    }
    deploy = DeployConfig(project="p")
    assert deploy.workers_service_account.startswith(accounts["workers"] + "@")
    assert deploy.builder_service_account.endswith(f"/serviceAccounts/{accounts['builder']}@p.iam.gserviceaccount.com")
    assert deploy.service_account("console").startswith(accounts["console"] + "@")
    for (rtype, name), body in RESOURCES.items():
        if rtype.endswith(("_iam_member", "_iam_binding", "_iam_policy")):
            assert rtype.endswith("_iam_member"), f"{rtype}: additive members only, never authoritative policies"
            assert unq(body["role"]) not in {"roles/owner", "roles/editor", "roles/viewer"}, name


def test_console_secret_and_apis_for_cloud_run_iap_secret_manager_and_vertex():
    (secret,) = of_type("google_secret_manager_secret").values()
    from infra.deploy import CONSOLE_TOKENS_SECRET

    assert value(secret, "secret_id") == CONSOLE_TOKENS_SECRET
    services = set(LOCALS["services"])
    assert {"run.googleapis.com", "iap.googleapis.com", "secretmanager.googleapis.com"} <= services
    assert {"aiplatform.googleapis.com", "dataflow.googleapis.com", "cloudbuild.googleapis.com"} <= services
    (agent,) = of_type("google_project_service_identity").values()
    assert value(agent, "service") == "iap.googleapis.com" and unq(agent["provider"]) == "google-beta"


@pytest.mark.parametrize(
    "target",
    [["-d", str(TF), "--framework", "terraform"], ["-f", str(REPO / "Dockerfile"), "--framework", "dockerfile"]],
)
def test_checkov_reports_no_unjustified_finding(target):
    if not CHECKOV.exists():
        pytest.skip(f"{CHECKOV} is missing: run `make checkov` (make test builds it)")
    env = {**os.environ, "BC_SKIP_MAPPING": "TRUE"}  # offline: no download of check guidelines
    proc = subprocess.run(
        [str(CHECKOV), *target, "-o", "json", "--skip-download"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    report = json.loads(proc.stdout[proc.stdout.index("{") :])
    summary, results = report["summary"], report["results"]
    assert summary["parsing_errors"] == 0 and summary["passed"] >= 30 and summary["resource_count"] > 0, summary
    failed = [(c["check_id"], c["resource"]) for c in results.get("failed_checks", [])]
    assert not failed, f"checkov findings (fix, or skip with a reason in a #checkov:skip comment): {failed}"
    for check in results.get("skipped_checks", []):
        reason = check.get("check_result", {}).get("suppress_comment", "")
        assert len(reason) > 40, f"{check['check_id']} on {check['resource']} is skipped without a reason"
