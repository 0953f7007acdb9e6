"""infra/terraform/notify.tf: the notifier's Cloud Run service runs `firewatch notify serve` as its
own service account, which may only take messages from its subscription, publish to the
undeliverable topic, read its secrets and invoke the service (the push subscription's OIDC
identity); the push subscription dead-letters to the undeliverable topic."""

from __future__ import annotations

from firewatch.config.options import add_config_arguments
from firewatch.notify.config import NotifyConfig
from tests.deploy.iam_model import doc_rows, terraform_rows
from tests.deploy.test_terraform import DECL, LOCALS, block, of_type, subscription_instances, topic_ref, unq, value


def test_the_notifier_has_exactly_the_roles_it_needs():
    # In docs/iam.md's terms (test_iam.py keeps the doc and Terraform equal): nothing project-wide.
    notifier = {(role, on) for account, role, on in terraform_rows() if account == "notifier"}
    assert notifier == {
        ("roles/pubsub.subscriber", "subscription notify"),
        ("roles/pubsub.publisher", "topic notify-undeliverable"),
        ("roles/secretmanager.secretAccessor", "secrets notify_secrets"),
        ("roles/run.invoker", "service notify"),
    }
    assert notifier == {(role, on) for account, role, on in doc_rows() if account == "notifier"}
    # One secretAccessor grant per secret: the config file's and those its ${ENV_VAR} references name.
    secrets = of_type("google_secret_manager_secret_iam_member")["notifier_reads_secrets"]
    assert unq(secrets["for_each"]) == "${local.notify_secrets}" and unq(secrets["secret_id"]) == "${each.value}"
    assert LOCALS["notify_secrets"] == "${toset(concat([var.notify_config_secret], values(var.notify_secret_env)))}"
    invoker = of_type("google_cloud_run_v2_service_iam_member")["push_invokes_notifier"]
    assert unq(invoker["location"]) == "${google_cloud_run_v2_service.notify.location}"


def test_the_push_subscription_signs_with_the_notifier_and_dead_letters_to_the_undeliverable_topic():
    sub = of_type("google_pubsub_subscription")["notify"]
    assert sub["topic"] == topic_ref("alerts")
    push = block(sub, "push_config")
    assert push["push_endpoint"] == "${google_cloud_run_v2_service.notify.uri}/pubsub"
    oidc = {k: unq(v) for k, v in push["oidc_token"][0].items() if not k.startswith("__")}
    assert oidc["service_account_email"] == "${google_service_account.notifier.email}"
    assert block(sub, "dead_letter_policy")["dead_letter_topic"] == topic_ref("notify-undeliverable")


def test_the_service_runs_notify_serve_with_flags_the_command_has():
    service = of_type("google_cloud_run_v2_service")["notify"]
    assert value(service, "ingress") == "INGRESS_TRAFFIC_INTERNAL_ONLY"
    template = service["template"][0]
    assert unq(template["service_account"]) == "${google_service_account.notifier.email}"
    container = template["containers"][0]
    assert unq(container["command"]) == ["firewatch"]
    args = " ".join(str(a) for a in [container["args"]])
    assert "notify" in args and "serve" in args
    import argparse

    parser = argparse.ArgumentParser()
    add_config_arguments(parser, NotifyConfig)
    known = {opt for action in parser._actions for opt in action.option_strings}
    for flag in ("--config", "--undeliverable-topic", "--console-url"):
        assert flag in known and flag + "=" in args, flag


def test_the_local_stack_declares_the_notifier_s_topics_as_terraform_names_them():
    # infra/resources.json (firewatch infra apply) and notify.tf: the same names; firewatch notify's
    # default --undeliverable-topic is that topic, so the pull notifier needs no flag for it locally.
    from infra.resources import ResourceNames

    names = ResourceNames()
    # Terraform creates every declared topic (for_each): the notifier's is declared.
    assert names.notify_undeliverable_topic == NotifyConfig.model_fields["undeliverable_topic"].default
    assert DECL["topics"]["notify_undeliverable_topic"]["name"] == names.notify_undeliverable_topic
    subscriptions = subscription_instances()
    assert names.notify_subscription == value(subscriptions[names.notify_subscription], "name")
    assert names.notify_undeliverable_subscription in subscriptions
