"""infra/terraform/notify.tf: the notifier's Cloud Run service runs `firewatch notify serve` as its
own service account, which may only take messages from its subscription, publish to the
undeliverable topic, read its secrets and invoke the service (the push subscription's OIDC
identity); the push subscription dead-letters to the undeliverable topic."""

from __future__ import annotations

from firewatch.config.options import add_config_arguments
from firewatch.notify.config import NotifyConfig
from tests.deploy.iam_model import member_account
from tests.deploy.test_terraform import RESOURCES, block, of_type, unq, value


def grants_of(account: str) -> set[tuple[str, str, str]]:
    found = set()
    for (rtype, _), body in RESOURCES.items():
        if rtype.endswith("_iam_member") and member_account(unq(body["member"]), body) == account:
            target = next(unq(body[k]) for k in ("subscription", "topic", "secret_id", "name", "project") if k in body)
            found.add((rtype, unq(body["role"]), target))
    return found


def test_the_notifier_has_exactly_the_roles_it_needs():
    assert grants_of("notifier") == {
        ("google_pubsub_subscription_iam_member", "roles/pubsub.subscriber", "${google_pubsub_subscription.notify.id}"),
        ("google_pubsub_topic_iam_member", "roles/pubsub.publisher", "${google_pubsub_topic.notify_undeliverable.id}"),
        ("google_secret_manager_secret_iam_member", "roles/secretmanager.secretAccessor", "${each.value}"),
        ("google_cloud_run_v2_service_iam_member", "roles/run.invoker", "${google_cloud_run_v2_service.notify.name}"),
    }
    (secrets,) = [b for (t, _), b in RESOURCES.items() if t == "google_secret_manager_secret_iam_member"]
    assert unq(secrets["for_each"]) == "${local.notify_secrets}"


def test_the_push_subscription_signs_with_the_notifier_and_dead_letters_to_the_undeliverable_topic():
    sub = of_type("google_pubsub_subscription")["notify"]
    assert sub["topic"] == "${google_pubsub_topic.alerts.id}"
    push = block(sub, "push_config")
    assert push["push_endpoint"] == "${google_cloud_run_v2_service.notify.uri}/pubsub"
    oidc = {k: unq(v) for k, v in push["oidc_token"][0].items() if not k.startswith("__")}
    assert oidc["service_account_email"] == "${google_service_account.notifier.email}"
    assert block(sub, "dead_letter_policy")["dead_letter_topic"] == "${google_pubsub_topic.notify_undeliverable.id}"
    assert value(of_type("google_pubsub_topic")["notify_undeliverable"], "name") == "notify-undeliverable"


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
