locals {
  services = [
    "artifactregistry.googleapis.com",
    "bigquery.googleapis.com",
    "cloudbuild.googleapis.com",
    "compute.googleapis.com",
    "dataflow.googleapis.com",
    "iam.googleapis.com",
    "logging.googleapis.com",
    "monitoring.googleapis.com",
    "pubsub.googleapis.com",
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
