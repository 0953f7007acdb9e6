# The dataset and tables of infra/resources.json (local.tables, declaration.tf): adding a table there (and its
# schema under infra/schemas/) adds it here. Schemas are the same JSON files the jobs and
# `firewatch infra apply` use; every table is partitioned by day and clustered as declared.
resource "google_bigquery_dataset" "firewatch" {
  #checkov:skip=CKV_GCP_81:Google-managed encryption; CMEK needs a Cloud KMS key the operator owns (set default_encryption_configuration when policy requires it)
  dataset_id                 = local.declaration.dataset.name
  location                   = var.bigquery_location
  description                = local.declaration.dataset.description
  delete_contents_on_destroy = false
  depends_on                 = [google_project_service.apis]
}

resource "google_bigquery_table" "tables" {
  #checkov:skip=CKV_GCP_80:Google-managed encryption; CMEK needs a Cloud KMS key the operator owns (set encryption_configuration when policy requires it)
  for_each            = local.tables
  dataset_id          = google_bigquery_dataset.firewatch.dataset_id
  table_id            = each.key
  description         = each.value.description
  schema              = file("${path.module}/../${each.value.schema}")
  deletion_protection = true
  time_partitioning {
    type  = "DAY"
    field = each.value.partition_field
  }
  clustering = each.value.clustering
}

# The tables were declared one block each before; these keep an existing deployment's tables (and their
# data) where they are instead of recreating them under the new addresses.
moved {
  from = google_bigquery_table.predictions
  to   = google_bigquery_table.tables["predictions"]
}
moved {
  from = google_bigquery_table.dead_letters
  to   = google_bigquery_table.tables["dead_letters"]
}
moved {
  from = google_bigquery_table.alerts
  to   = google_bigquery_table.tables["alerts"]
}
moved {
  from = google_bigquery_table.explanations
  to   = google_bigquery_table.tables["explanations"]
}
moved {
  from = google_bigquery_table.feedback
  to   = google_bigquery_table.tables["feedback"]
}
moved {
  from = google_bigquery_table.monitoring
  to   = google_bigquery_table.tables["monitoring"]
}
moved {
  from = google_bigquery_table.camera_health
  to   = google_bigquery_table.tables["camera_health"]
}
moved {
  from = google_bigquery_table.masks
  to   = google_bigquery_table.tables["masks"]
}
moved {
  from = google_bigquery_table.region_baselines
  to   = google_bigquery_table.tables["region_baselines"]
}
moved {
  from = google_bigquery_table.model_versions
  to   = google_bigquery_table.tables["model_versions"]
}
moved {
  from = google_bigquery_table.shadow_predictions
  to   = google_bigquery_table.tables["shadow_predictions"]
}
