# The notifier (`firewatch notify serve`, docs/notify.md): a Cloud Run service on a push
# subscription to the alerts topic, sending alerts and camera-health events to webhooks, Slack,
# Telegram and e-mail. It runs the console's image with another command.
#
# Its own service account, firewatch-notifier, may only: take messages from its subscription,
# publish to the notify-undeliverable topic, read the secrets its config names, and (as the push
# subscription's OIDC identity) invoke this service. The config file itself is a Secret Manager
# secret mounted as a file; the secrets it references as ${ENV_VAR} come from notify_secret_env.

variable "notify_image" {
  description = "Image of the notifier: the console image (firewatch deploy console builds it), e.g. REGION-docker.pkg.dev/PROJECT/firewatch/console:TAG."
  type        = string
  default     = ""
}

variable "notify_config_secret" {
  description = "Secret Manager secret (id) holding the notifier's config file (notify.yaml), mounted at /etc/firewatch/notify.yaml."
  type        = string
  default     = "notify-config"
}

variable "notify_secret_env" {
  description = "Environment variable -> Secret Manager secret id, for the $${ENV_VAR} references of the config (webhook secret, Slack URL, bot token, SMTP password)."
  type        = map(string)
  default     = {}
}

variable "notify_console_url" {
  description = "The console's base URL, for the links to an alert's page."
  type        = string
  default     = ""
}

variable "notify_max_delivery_attempts" {
  description = "Pushes of a message the notifier did not acknowledge before it goes to notify-undeliverable."
  type        = number
  default     = 10
}

locals {
  notifier = "serviceAccount:${google_service_account.notifier.email}"
  # Every secret the notifier reads: its config file and the ones its references name.
  notify_secrets = toset(concat([var.notify_config_secret], values(var.notify_secret_env)))
}

resource "google_project_service" "notify_apis" {
  for_each           = toset(["run.googleapis.com", "secretmanager.googleapis.com"])
  service            = each.value
  disable_on_destroy = false
}

resource "google_service_account" "notifier" {
  account_id   = "firewatch-notifier"
  display_name = "Firewatch notifier: alerts to webhooks, Slack, Telegram and e-mail (Cloud Run)"
}

resource "google_cloud_run_v2_service" "notify" {
  name     = "firewatch-notify"
  location = var.region
  # Pub/Sub push from this project is internal traffic: nothing outside may call the service.
  ingress             = "INGRESS_TRAFFIC_INTERNAL_ONLY"
  deletion_protection = false

  template {
    service_account = google_service_account.notifier.email
    timeout         = "300s"
    # One instance: the update throttle is kept in memory per instance.
    scaling {
      min_instance_count = 0
      max_instance_count = 1
    }
    containers {
      image   = var.notify_image
      command = ["firewatch"]
      args = concat(
        ["notify", "serve", "--config=/etc/firewatch/notify.yaml",
        "--undeliverable-topic=${google_pubsub_topic.topics["notify-undeliverable"].id}"],
        var.notify_console_url == "" ? [] : ["--console-url=${var.notify_console_url}"],
      )
      ports {
        container_port = 8080
      }
      dynamic "env" {
        for_each = var.notify_secret_env
        content {
          name = env.key
          value_source {
            secret_key_ref {
              secret  = env.value
              version = "latest"
            }
          }
        }
      }
      volume_mounts {
        name       = "config"
        mount_path = "/etc/firewatch"
      }
    }
    volumes {
      name = "config"
      secret {
        secret = var.notify_config_secret
        items {
          path    = "notify.yaml"
          version = "latest"
        }
      }
    }
  }
  depends_on = [google_project_service.notify_apis, google_secret_manager_secret_iam_member.notifier_reads_secrets]
}

# The push subscription signs its requests with the notifier's OIDC token; Cloud Run checks it.
resource "google_pubsub_subscription" "notify" {
  name                       = "notify-sub"
  topic                      = google_pubsub_topic.topics["alerts"].id
  ack_deadline_seconds       = 300 # retries with backoff over several channels
  message_retention_duration = local.week
  expiration_policy {
    ttl = ""
  }
  push_config {
    push_endpoint = "${google_cloud_run_v2_service.notify.uri}/pubsub"
    oidc_token {
      service_account_email = google_service_account.notifier.email
      audience              = google_cloud_run_v2_service.notify.uri
    }
  }
  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.topics["notify-undeliverable"].id
    max_delivery_attempts = var.notify_max_delivery_attempts
  }
  retry_policy {
    minimum_backoff = "10s"
    maximum_backoff = "600s"
  }
}

# --- the notifier's grants (nothing project-wide) -----------------------------------------------
resource "google_pubsub_subscription_iam_member" "notifier_reads_alerts" {
  subscription = google_pubsub_subscription.notify.id
  role         = "roles/pubsub.subscriber"
  member       = local.notifier
}

resource "google_pubsub_topic_iam_member" "notifier_publishes_undeliverable" {
  topic  = google_pubsub_topic.topics["notify-undeliverable"].id
  role   = "roles/pubsub.publisher"
  member = local.notifier
}

resource "google_secret_manager_secret_iam_member" "notifier_reads_secrets" {
  for_each  = local.notify_secrets
  secret_id = each.value
  role      = "roles/secretmanager.secretAccessor"
  member    = local.notifier
}

resource "google_cloud_run_v2_service_iam_member" "push_invokes_notifier" {
  name     = google_cloud_run_v2_service.notify.name
  location = google_cloud_run_v2_service.notify.location
  role     = "roles/run.invoker"
  member   = local.notifier
}

# Pub/Sub's service agent dead-letters pushes the service never acknowledged.
resource "google_pubsub_topic_iam_member" "agent_publishes_notify_undeliverable" {
  topic  = google_pubsub_topic.topics["notify-undeliverable"].id
  role   = "roles/pubsub.publisher"
  member = local.pubsub_agent
}

resource "google_pubsub_subscription_iam_member" "agent_acks_notify" {
  subscription = google_pubsub_subscription.notify.id
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_agent
}

output "notify" {
  description = "The notifier's service URL, its push subscription and the undeliverable topic."
  value = {
    url           = google_cloud_run_v2_service.notify.uri
    subscription  = google_pubsub_subscription.notify.name
    undeliverable = google_pubsub_topic.topics["notify-undeliverable"].name
  }
}
