# The dataset and tables of infra/resources.json; schemas are the same JSON files the jobs and
# `firewatch infra apply` use (file() of ../schemas/*.json), partitioned by day and clustered.
resource "google_bigquery_dataset" "firewatch" {
  #checkov:skip=CKV_GCP_81:Google-managed encryption; CMEK needs a Cloud KMS key the operator owns (set default_encryption_configuration when policy requires it)
  dataset_id                 = "firewatch"
  location                   = var.bigquery_location
  description                = "Firewatch predictions, alerts, explanations and dead letters."
  delete_contents_on_destroy = false
  depends_on                 = [google_project_service.apis]
}

resource "google_bigquery_table" "predictions" {
  #checkov:skip=CKV_GCP_80:Google-managed encryption; CMEK needs a Cloud KMS key the operator owns (set encryption_configuration when policy requires it)
  dataset_id          = google_bigquery_dataset.firewatch.dataset_id
  table_id            = "predictions"
  description         = "One row per scored frame."
  schema              = file("${path.module}/../schemas/predictions.json")
  deletion_protection = true
  time_partitioning {
    type  = "DAY"
    field = "processed_at"
  }
  clustering = ["camera_id"]
}

resource "google_bigquery_table" "dead_letters" {
  #checkov:skip=CKV_GCP_80:Google-managed encryption; CMEK needs a Cloud KMS key the operator owns (set encryption_configuration when policy requires it)
  dataset_id          = google_bigquery_dataset.firewatch.dataset_id
  table_id            = "dead_letters"
  description         = "Rejected input with the reason; nothing is dropped silently."
  schema              = file("${path.module}/../schemas/dead_letters.json")
  deletion_protection = true
  time_partitioning {
    type  = "DAY"
    field = "received_at"
  }
  clustering = ["stage"]
}

resource "google_bigquery_table" "alerts" {
  #checkov:skip=CKV_GCP_80:Google-managed encryption; CMEK needs a Cloud KMS key the operator owns (set encryption_configuration when policy requires it)
  dataset_id          = google_bigquery_dataset.firewatch.dataset_id
  table_id            = "alerts"
  description         = "Alert episode events."
  schema              = file("${path.module}/../schemas/alerts.json")
  deletion_protection = true
  time_partitioning {
    type  = "DAY"
    field = "event_time"
  }
  clustering = ["camera_id"]
}

resource "google_bigquery_table" "explanations" {
  #checkov:skip=CKV_GCP_80:Google-managed encryption; CMEK needs a Cloud KMS key the operator owns (set encryption_configuration when policy requires it)
  dataset_id          = google_bigquery_dataset.firewatch.dataset_id
  table_id            = "explanations"
  description         = "Integrated Gradients / XRAI explanations of fire frames."
  schema              = file("${path.module}/../schemas/explanations.json")
  deletion_protection = true
  time_partitioning {
    type  = "DAY"
    field = "created_at"
  }
  clustering = ["camera_id"]
}

resource "google_bigquery_table" "feedback" {
  #checkov:skip=CKV_GCP_80:Google-managed encryption; CMEK needs a Cloud KMS key the operator owns (set encryption_configuration when policy requires it)
  dataset_id          = google_bigquery_dataset.firewatch.dataset_id
  table_id            = "feedback"
  description         = "Operators' verdicts from the console (append-only; the latest row per alert or frame wins)."
  schema              = file("${path.module}/../schemas/feedback.json")
  deletion_protection = true
  time_partitioning {
    type  = "DAY"
    field = "judged_at"
  }
  clustering = ["camera_id"]
}

resource "google_bigquery_table" "monitoring" {
  #checkov:skip=CKV_GCP_80:Google-managed encryption; CMEK needs a Cloud KMS key the operator owns (set encryption_configuration when policy requires it)
  dataset_id          = google_bigquery_dataset.firewatch.dataset_id
  table_id            = "monitoring"
  description         = "Drift job: per camera and window, PSI of scores and image statistics against the reference."
  schema              = file("${path.module}/../schemas/monitoring.json")
  deletion_protection = true
  time_partitioning {
    type  = "DAY"
    field = "computed_at"
  }
  clustering = ["camera_id"]
}

resource "google_bigquery_table" "camera_health" {
  #checkov:skip=CKV_GCP_80:Google-managed encryption; CMEK needs a Cloud KMS key the operator owns (set encryption_configuration when policy requires it)
  dataset_id          = google_bigquery_dataset.firewatch.dataset_id
  table_id            = "camera_health"
  description         = "Camera health events from the streaming job: one row per change of a camera's state (healthy, frozen, blind, moved, night, stale), also published on the alerts topic with event=camera_health."
  schema              = file("${path.module}/../schemas/camera_health.json")
  deletion_protection = true
  time_partitioning {
    type  = "DAY"
    field = "event_time"
  }
  clustering = ["camera_id"]
}

resource "google_bigquery_table" "masks" {
  #checkov:skip=CKV_GCP_80:Google-managed encryption; CMEK needs a Cloud KMS key the operator owns (set encryption_configuration when policy requires it)
  dataset_id          = google_bigquery_dataset.firewatch.dataset_id
  table_id            = "masks"
  description         = "Per-camera exclusion masks from the console (append-only; the highest mask_version per camera wins); the pipelines re-read it every --mask-refresh-seconds."
  schema              = file("${path.module}/../schemas/masks.json")
  deletion_protection = true
  time_partitioning {
    type  = "DAY"
    field = "created_at"
  }
  clustering = ["camera_id"]
}

resource "google_bigquery_table" "region_baselines" {
  #checkov:skip=CKV_GCP_80:Google-managed encryption; CMEK needs a Cloud KMS key the operator owns (set encryption_configuration when policy requires it)
  dataset_id          = google_bigquery_dataset.firewatch.dataset_id
  table_id            = "region_baselines"
  description         = "Per camera, model version, hour of day and region: the highest score of frames outside alerts over the last days (firewatch baselines update appends a whole computation; the latest wins); the pipelines raise each region's threshold above it."
  schema              = file("${path.module}/../schemas/region_baselines.json")
  deletion_protection = true
  time_partitioning {
    type  = "DAY"
    field = "computed_at"
  }
  clustering = ["camera_id"]
}

resource "google_bigquery_table" "model_versions" {
  #checkov:skip=CKV_GCP_80:Google-managed encryption; CMEK needs a Cloud KMS key the operator owns (set encryption_configuration when policy requires it)
  dataset_id          = google_bigquery_dataset.firewatch.dataset_id
  table_id            = "model_versions"
  description         = "Model registry events (registered, promoted, shadowed, rolled_back_to), each with the version's lineage: data hashes, training config, parent version, evaluation; alerts and predictions join on model_version."
  schema              = file("${path.module}/../schemas/model_versions.json")
  deletion_protection = true
  time_partitioning {
    type  = "DAY"
    field = "event_at"
  }
  clustering = ["model_version"]
}

resource "google_bigquery_table" "shadow_predictions" {
  #checkov:skip=CKV_GCP_80:Google-managed encryption; CMEK needs a Cloud KMS key the operator owns (set encryption_configuration when policy requires it)
  dataset_id          = google_bigquery_dataset.firewatch.dataset_id
  table_id            = "shadow_predictions"
  description         = "Shadow scoring (streaming with --model-registry): a share of the frames also scored by the registry's `shadow` version, never alerting; joins predictions on frame_key (firewatch model compare)."
  schema              = file("${path.module}/../schemas/shadow_predictions.json")
  deletion_protection = true
  time_partitioning {
    type  = "DAY"
    field = "scored_at"
  }
  clustering = ["camera_id"]
}
