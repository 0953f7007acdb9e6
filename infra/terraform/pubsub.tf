# Topics and subscriptions of infra/resources.json. Every subscription keeps unacknowledged
# messages 7 days, so a stopped or drained job can catch up; alerts that no consumer can
# take go to a dead-letter topic instead of being redelivered forever.
locals {
  week = "604800s"
}

# Every declared topic (the notifier's undeliverable one too); alerts that no consumer acknowledged go to
# alerts-undeliverable, events no channel would take to notify-undeliverable.
resource "google_pubsub_topic" "topics" {
  #checkov:skip=CKV_GCP_83:Google-managed encryption; CMEK needs a Cloud KMS key the operator owns (set kms_key_name when policy requires it)
  for_each                   = local.topics
  name                       = each.key
  message_retention_duration = local.week
  depends_on                 = [google_project_service.apis]
}

# The topics were declared one block each before: moved, not recreated.
moved {
  from = google_pubsub_topic.frames
  to   = google_pubsub_topic.topics["frames"]
}
moved {
  from = google_pubsub_topic.alerts
  to   = google_pubsub_topic.topics["alerts"]
}
moved {
  from = google_pubsub_topic.dead_letters
  to   = google_pubsub_topic.topics["dead-letters"]
}
moved {
  from = google_pubsub_topic.alerts_undeliverable
  to   = google_pubsub_topic.topics["alerts-undeliverable"]
}
moved {
  from = google_pubsub_topic.notify_undeliverable
  to   = google_pubsub_topic.topics["notify-undeliverable"]
}

# Every declared subscription with nothing but a topic, an ack deadline and 7 days' retention: frames-sub,
# dead-letters-sub, console-alerts-sub (the operator console's own copy of the alerts) and the two
# undeliverable ones. Never expiring, even while no job reads them.
resource "google_pubsub_subscription" "pull" {
  for_each                   = local.pull_subscriptions
  name                       = each.key
  topic                      = google_pubsub_topic.topics[local.declaration.topics[each.value.topic].name].id
  ack_deadline_seconds       = each.value.ack_deadline_seconds
  message_retention_duration = "${each.value.retention_seconds}s"
  expiration_policy {
    ttl = ""
  }
}

moved {
  from = google_pubsub_subscription.frames
  to   = google_pubsub_subscription.pull["frames-sub"]
}
moved {
  from = google_pubsub_subscription.dead_letters
  to   = google_pubsub_subscription.pull["dead-letters-sub"]
}
moved {
  from = google_pubsub_subscription.alerts_undeliverable
  to   = google_pubsub_subscription.pull["alerts-undeliverable-sub"]
}
moved {
  from = google_pubsub_subscription.console_alerts
  to   = google_pubsub_subscription.pull["console-alerts-sub"]
}
moved {
  from = google_pubsub_subscription.notify_undeliverable
  to   = google_pubsub_subscription.pull["notify-undeliverable-sub"]
}

resource "google_pubsub_subscription" "alerts" {
  name                       = "alerts-sub"
  topic                      = google_pubsub_topic.topics["alerts"].id
  ack_deadline_seconds       = 30
  message_retention_duration = local.week
  expiration_policy {
    ttl = ""
  }
  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.topics["alerts-undeliverable"].id
    max_delivery_attempts = var.alert_max_delivery_attempts
  }
  retry_policy {
    minimum_backoff = "10s"
    maximum_backoff = "600s"
  }
}

# Pub/Sub's own service agent moves undeliverable alerts: it publishes to the dead-letter
# topic and acknowledges on the alerts subscription (Google's dead-letter requirements).
locals {
  pubsub_agent = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
}

resource "google_pubsub_topic_iam_member" "agent_publishes_undeliverable" {
  topic  = google_pubsub_topic.topics["alerts-undeliverable"].id
  role   = "roles/pubsub.publisher"
  member = local.pubsub_agent
}

resource "google_pubsub_subscription_iam_member" "agent_acks_alerts" {
  subscription = google_pubsub_subscription.alerts.id
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_agent
}

