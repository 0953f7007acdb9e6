locals {
  services = [
    "aiplatform.googleapis.com", # Vertex AI: firewatch vertex deploy / predict
    "artifactregistry.googleapis.com",
    "bigquery.googleapis.com",
    "cloudbuild.googleapis.com",
    "cloudscheduler.googleapis.com", # the retraining loop's schedule (firewatch vertex loop)
    "compute.googleapis.com",
    "dataflow.googleapis.com",
    "iam.googleapis.com",
    "iap.googleapis.com", # Identity-Aware Proxy in front of the console (firewatch deploy console)
    "logging.googleapis.com",
    "monitoring.googleapis.com",
    "pubsub.googleapis.com",
    "run.googleapis.com",           # the operator console on Cloud Run
    "secretmanager.googleapis.com", # the console's operator tokens (--identity tokens)
    "storage.googleapis.com",
  ]
}

resource "google_project_service" "apis" {
  for_each           = toset(local.services)
  service            = each.value
  disable_on_destroy = false
}

resource "google_artifact_registry_repository" "firewatch" {
  #checkov:skip=CKV_GCP_84:Google-managed encryption; CMEK needs a Cloud KMS key the operator owns (set kms_key_name when policy requires it)
  location      = var.region
  repository_id = "firewatch"
  description   = "Firewatch flex-template images (streaming, batch; -gpu variants)."
  format        = "DOCKER"
  depends_on    = [google_project_service.apis]
}

# The console's operator tokens (`firewatch deploy console --identity tokens` passes it as
# $FIREWATCH_CONSOLE_TOKENS with --set-secrets). Terraform creates the secret, never its value:
#   printf 'alice=TOKEN\n' | gcloud secrets versions add console-tokens --data-file=-
resource "google_secret_manager_secret" "console_tokens" {
  #checkov:skip=CKV_GCP_84:Google-managed encryption; CMEK needs a Cloud KMS key the operator owns (set customer_managed_encryption when policy requires it)
  secret_id = "console-tokens"
  replication {
    auto {}
  }
  depends_on = [google_project_service.apis]
}

# IAP's service agent calls the console on Cloud Run (it needs run.invoker there). It exists
# once created for the project; this creates it so the grant in iam.tf can name it.
resource "google_project_service_identity" "iap_agent" {
  provider   = google-beta
  project    = var.project_id
  service    = "iap.googleapis.com"
  depends_on = [google_project_service.apis]
}
