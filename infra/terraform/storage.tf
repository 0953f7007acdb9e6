# Bucket names are global, so every one is prefixed with the project id.
#   frames:   camera frames referenced by gs:// URIs, explanation overlays (deleted after N days)
#   models:   exported models, versioned (rollback = point the job at the previous folder)
#   dataflow: flex-template specs, staging and temp files (temp/staging deleted after 7 days)
#   builds:   Cloud Build's uploaded sources and build logs (`firewatch deploy build|console`;
#             deleted after 14 days), so neither needs the `<project>_cloudbuild` bucket nor Viewer
resource "google_storage_bucket" "frames" {
  #checkov:skip=CKV_GCP_62:access is recorded by Cloud Audit Logs (enable Data Access logs for storage); legacy usage logs would need another bucket
  name                        = "${var.project_id}-firewatch-frames"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  versioning {
    enabled = true
  }
  lifecycle_rule {
    condition {
      age = var.frames_retention_days
    }
    action {
      type = "Delete"
    }
  }
  lifecycle_rule {
    condition {
      days_since_noncurrent_time = 1
    }
    action {
      type = "Delete"
    }
  }
  depends_on = [google_project_service.apis]
}

resource "google_storage_bucket" "models" {
  #checkov:skip=CKV_GCP_62:access is recorded by Cloud Audit Logs (enable Data Access logs for storage); legacy usage logs would need another bucket
  name                        = "${var.project_id}-firewatch-models"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  versioning {
    enabled = true
  }
  lifecycle_rule {
    condition {
      num_newer_versions = 3
    }
    action {
      type = "Delete"
    }
  }
  depends_on = [google_project_service.apis]
}

resource "google_storage_bucket" "dataflow" {
  #checkov:skip=CKV_GCP_62:access is recorded by Cloud Audit Logs (enable Data Access logs for storage); legacy usage logs would need another bucket
  name                        = "${var.project_id}-firewatch-dataflow"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  # Temporary files only: no soft-deleted copies to pay for (Beam warns about them on temp and staging).
  soft_delete_policy {
    retention_duration_seconds = 0
  }
  versioning {
    enabled = true
  }
  lifecycle_rule {
    condition {
      age            = 7
      matches_prefix = ["temp/", "staging/"]
    }
    action {
      type = "Delete"
    }
  }
  lifecycle_rule {
    condition {
      days_since_noncurrent_time = 7
    }
    action {
      type = "Delete"
    }
  }
  depends_on = [google_project_service.apis]
}

resource "google_storage_bucket" "builds" {
  #checkov:skip=CKV_GCP_62:access is recorded by Cloud Audit Logs (enable Data Access logs for storage); legacy usage logs would need another bucket
  #checkov:skip=CKV_GCP_78:sources and logs of builds are re-creatable and deleted after 14 days; versions would only keep them longer
  name                        = "${var.project_id}-firewatch-builds"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  # Temporary files only: no soft-deleted copies to pay for (Beam warns about them on temp and staging).
  soft_delete_policy {
    retention_duration_seconds = 0
  }
  lifecycle_rule {
    condition {
      age = 14
    }
    action {
      type = "Delete"
    }
  }
  depends_on = [google_project_service.apis]
}
