# One service account per role, each with only what its role needs. docs/iam.md is the table of
# every account, role and reason; tests/deploy/test_iam.py keeps it and these grants equal, and
# checks that `firewatch deploy --dry-run`'s commands need nothing the launcher is not granted.
#   launcher        - deploys: Cloud Build, template specs, launches and drains jobs, the console
#   builder         - Cloud Build's service account: builds the images, pushes them
#   workers         - the Dataflow workers (and the flex-template launcher VM)
#   cameras         - publish frames (message or uploaded object)
#   alert-consumers - read alerts
#   console         - the operator console on Cloud Run: reads predictions, alerts, explanations,
#                     dead letters and monitoring rows, frames and the model; writes verdicts and masks
resource "google_service_account" "launcher" {
  account_id   = "firewatch-launcher"
  display_name = "Firewatch deployer: builds images and launches Dataflow jobs"
}

resource "google_service_account" "builder" {
  account_id   = "firewatch-builder"
  display_name = "Firewatch Cloud Build: builds and pushes the images"
}

resource "google_service_account" "workers" {
  account_id   = "firewatch-workers"
  display_name = "Firewatch Dataflow workers"
}

resource "google_service_account" "cameras" {
  account_id   = "firewatch-cameras"
  display_name = "Firewatch cameras: publish frames"
}

resource "google_service_account" "alert_consumers" {
  account_id   = "firewatch-alert-consumers"
  display_name = "Firewatch alert consumers: read alerts"
}

resource "google_service_account" "console" {
  account_id   = "firewatch-console"
  display_name = "Firewatch operator console (Cloud Run)"
}

resource "google_service_account" "loop" {
  account_id   = "firewatch-loop"
  display_name = "Firewatch retraining loop (Vertex AI custom job: firewatch model loop)"
}

resource "google_service_account" "scheduler" {
  account_id   = "firewatch-scheduler"
  display_name = "Firewatch schedule: Cloud Scheduler starts the retraining loop on Vertex AI"
}

locals {
  launcher = "serviceAccount:${google_service_account.launcher.email}"
  builder  = "serviceAccount:${google_service_account.builder.email}"
  workers  = "serviceAccount:${google_service_account.workers.email}"
  console  = "serviceAccount:${google_service_account.console.email}"
  loop      = "serviceAccount:${google_service_account.loop.email}"
  scheduler = "serviceAccount:${google_service_account.scheduler.email}"
  # The tables the console shows (it writes only the feedback table).
  console_reads = {
    predictions   = google_bigquery_table.tables["predictions"].table_id
    alerts        = google_bigquery_table.tables["alerts"].table_id
    explanations  = google_bigquery_table.tables["explanations"].table_id
    dead_letters  = google_bigquery_table.tables["dead_letters"].table_id
    monitoring    = google_bigquery_table.tables["monitoring"].table_id
    camera_health = google_bigquery_table.tables["camera_health"].table_id
  }
  # Operators' verdicts and the cameras' exclusion masks (append-only tables).
  console_writes = {
    feedback = google_bigquery_table.tables["feedback"].table_id
    masks    = google_bigquery_table.tables["masks"].table_id
  }
}

# --- launcher --------------------------------------------------------------------------
resource "google_project_iam_member" "launcher_dataflow" {
  #checkov:skip=CKV_GCP_49:the deployer must launch Dataflow jobs and Cloud Builds, which are project-level roles; it can act only as the workers, builder and console accounts
  project = var.project_id
  role    = "roles/dataflow.developer"
  member  = local.launcher
}

# Creating a Dataflow job reads machine types, regions and zones (compute.machineTypes.get ...):
# Google's Dataflow access-control guide pairs Dataflow Developer with Compute Viewer for that.
resource "google_project_iam_member" "launcher_compute_viewer" {
  #checkov:skip=CKV_GCP_49:read-only Compute Engine metadata a Dataflow job launch needs; project-level by nature
  project = var.project_id
  role    = "roles/compute.viewer"
  member  = local.launcher
}

resource "google_project_iam_member" "launcher_builds" {
  #checkov:skip=CKV_GCP_49:the deployer must launch Dataflow jobs and Cloud Builds, which are project-level roles; it can act only as the workers, builder and console accounts
  project = var.project_id
  role    = "roles/cloudbuild.builds.editor"
  member  = local.launcher
}

resource "google_storage_bucket_iam_member" "launcher_dataflow_bucket" {
  bucket = google_storage_bucket.dataflow.name
  role   = "roles/storage.objectAdmin"
  member = local.launcher
}

# `gcloud builds submit --gcs-source-staging-dir --gcs-log-dir` (both in the builds bucket):
# it reads the bucket (storage.buckets.get) before uploading the source, then tails the log.
resource "google_storage_bucket_iam_member" "launcher_builds_bucket" {
  bucket = google_storage_bucket.builds.name
  role   = "roles/storage.objectAdmin"
  member = local.launcher
}

resource "google_storage_bucket_iam_member" "launcher_reads_builds_bucket" {
  bucket = google_storage_bucket.builds.name
  role   = "roles/storage.legacyBucketReader"
  member = local.launcher
}

resource "google_storage_bucket_iam_member" "launcher_models" {
  bucket = google_storage_bucket.models.name
  role   = "roles/storage.objectCreator"
  member = local.launcher
}

# `gcloud storage cp -r MODEL gs://.../vN` first resolves the destination (objects.get and list).
resource "google_storage_bucket_iam_member" "launcher_reads_models" {
  bucket = google_storage_bucket.models.name
  role   = "roles/storage.objectViewer"
  member = local.launcher
}

# Jobs run as the workers' account, builds as the builder's, the console as its own: the
# launcher may act as those three accounts and no other.
resource "google_service_account_iam_member" "launcher_acts_as_workers" {
  service_account_id = google_service_account.workers.name
  role               = "roles/iam.serviceAccountUser"
  member             = local.launcher
}

resource "google_service_account_iam_member" "launcher_acts_as_builder" {
  service_account_id = google_service_account.builder.name
  role               = "roles/iam.serviceAccountUser"
  member             = local.launcher
}

# `firewatch deploy console`: `--iap` and `--allow-unauthenticated` change the service's IAM
# policy (run.services.setIamPolicy), which Cloud Run Developer lacks.
resource "google_project_iam_member" "launcher_run" {
  #checkov:skip=CKV_GCP_49:deploying a Cloud Run service is a project-level role; the deployer can act only as the console, builder and workers accounts
  project = var.project_id
  role    = "roles/run.admin"
  member  = local.launcher
}

resource "google_service_account_iam_member" "launcher_acts_as_console" {
  service_account_id = google_service_account.console.name
  role               = "roles/iam.serviceAccountUser"
  member             = local.launcher
}

# --- builder (Cloud Build) ---------------------------------------------------------------
# Builds run as this account (--service-account), not the legacy Cloud Build account: it reads
# the uploaded source and writes the build log in the builds bucket and pushes the images.
resource "google_artifact_registry_repository_iam_member" "builder_pushes" {
  location   = google_artifact_registry_repository.firewatch.location
  repository = google_artifact_registry_repository.firewatch.name
  role       = "roles/artifactregistry.writer"
  member     = local.builder
}

resource "google_storage_bucket_iam_member" "builder_builds_bucket" {
  bucket = google_storage_bucket.builds.name
  role   = "roles/storage.objectAdmin"
  member = local.builder
}

# --- workers ---------------------------------------------------------------------------
resource "google_project_iam_member" "workers_dataflow" {
  project = var.project_id
  role    = "roles/dataflow.worker"
  member  = local.workers
}

# Batch inputs given as bq:SELECT ... run query jobs in the project.
resource "google_project_iam_member" "workers_bigquery_jobs" {
  project = var.project_id
  role    = "roles/bigquery.jobUser"
  member  = local.workers
}

resource "google_bigquery_dataset_iam_member" "workers_write_rows" {
  dataset_id = google_bigquery_dataset.firewatch.dataset_id
  role       = "roles/bigquery.dataEditor"
  member     = local.workers
}

resource "google_pubsub_subscription_iam_member" "workers_read_frames" {
  subscription = google_pubsub_subscription.pull["frames-sub"].id
  role         = "roles/pubsub.subscriber"
  member       = local.workers
}

resource "google_pubsub_topic_iam_member" "workers_publish_alerts" {
  topic  = google_pubsub_topic.topics["alerts"].id
  role   = "roles/pubsub.publisher"
  member = local.workers
}

resource "google_pubsub_topic_iam_member" "workers_publish_dead_letters" {
  topic  = google_pubsub_topic.topics["dead-letters"].id
  role   = "roles/pubsub.publisher"
  member = local.workers
}

resource "google_artifact_registry_repository_iam_member" "workers_pull" {
  location   = google_artifact_registry_repository.firewatch.location
  repository = google_artifact_registry_repository.firewatch.name
  role       = "roles/artifactregistry.reader"
  member     = local.workers
}

resource "google_storage_bucket_iam_member" "workers_staging" {
  bucket = google_storage_bucket.dataflow.name
  role   = "roles/storage.objectAdmin"
  member = local.workers
}

resource "google_storage_bucket_iam_member" "workers_read_models" {
  bucket = google_storage_bucket.models.name
  role   = "roles/storage.objectViewer"
  member = local.workers
}

resource "google_storage_bucket_iam_member" "workers_read_frames" {
  bucket = google_storage_bucket.frames.name
  role   = "roles/storage.objectViewer"
  member = local.workers
}

# Overlays are only created, never overwritten or deleted: the explain step writes each under a
# name of its own (or with ifGenerationMatch=0), so a retried bundle does not need objects.delete.
resource "google_storage_bucket_iam_member" "workers_write_overlays" {
  bucket = google_storage_bucket.frames.name
  role   = "roles/storage.objectCreator"
  member = local.workers
}

# --- cameras ---------------------------------------------------------------------------
resource "google_pubsub_topic_iam_member" "cameras_publish_frames" {
  topic  = google_pubsub_topic.topics["frames"].id
  role   = "roles/pubsub.publisher"
  member = "serviceAccount:${google_service_account.cameras.email}"
}

resource "google_storage_bucket_iam_member" "cameras_upload_frames" {
  bucket = google_storage_bucket.frames.name
  role   = "roles/storage.objectCreator"
  member = "serviceAccount:${google_service_account.cameras.email}"
}

# --- alert consumers -------------------------------------------------------------------
resource "google_pubsub_subscription_iam_member" "consumers_read_alerts" {
  subscription = google_pubsub_subscription.alerts.id
  role         = "roles/pubsub.subscriber"
  member       = "serviceAccount:${google_service_account.alert_consumers.email}"
}

# --- console ---------------------------------------------------------------------------
resource "google_project_iam_member" "console_bigquery_jobs" {
  project = var.project_id
  role    = "roles/bigquery.jobUser"
  member  = local.console
}

resource "google_bigquery_table_iam_member" "console_reads" {
  for_each   = local.console_reads
  dataset_id = google_bigquery_dataset.firewatch.dataset_id
  table_id   = each.value
  role       = "roles/bigquery.dataViewer"
  member     = local.console
}

resource "google_bigquery_table_iam_member" "console_writes" {
  for_each   = local.console_writes
  dataset_id = google_bigquery_dataset.firewatch.dataset_id
  table_id   = each.value
  role       = "roles/bigquery.dataEditor"
  member     = local.console
}

resource "google_pubsub_subscription_iam_member" "console_live_alerts" {
  subscription = google_pubsub_subscription.pull["console-alerts-sub"].id
  role         = "roles/pubsub.subscriber"
  member       = local.console
}

resource "google_storage_bucket_iam_member" "console_reads_frames" {
  bucket = google_storage_bucket.frames.name
  role   = "roles/storage.objectViewer"
  member = local.console
}

resource "google_storage_bucket_iam_member" "console_reads_models" {
  bucket = google_storage_bucket.models.name
  role   = "roles/storage.objectViewer"
  member = local.console
}

# $FIREWATCH_CONSOLE_TOKENS (`--identity tokens`): Cloud Run reads the secret as the console.
resource "google_secret_manager_secret_iam_member" "console_reads_tokens" {
  secret_id = google_secret_manager_secret.console_tokens.id
  role      = "roles/secretmanager.secretAccessor"
  member    = local.console
}

# --- Identity-Aware Proxy in front of the console (`--identity iap`) ---------------------
# IAP's service agent invokes the console. The service is deployed by gcloud after this apply, so
# the grant is on the project (what Google's IAP-for-Cloud-Run guide grants on the service); the
# agent only relays requests IAP has let through, to services with IAP turned on.
resource "google_project_iam_member" "iap_agent_invokes_console" {
  #checkov:skip=CKV_GCP_49:the console service is deployed by gcloud after terraform apply, so the invoker grant for IAP's Google-managed agent cannot name it
  project = var.project_id
  role    = "roles/run.invoker"
  member  = "serviceAccount:${google_project_service_identity.iap_agent.email}"
}

# The operators who may open the console through IAP (var.console_operators).
resource "google_iap_web_iam_member" "operators_open_console" {
  for_each = var.console_operators
  project  = var.project_id
  role     = "roles/iap.httpsResourceAccessor"
  member   = each.value
}

# --- retraining loop (firewatch model loop, scheduled by firewatch vertex loop) ----------------
# The loop exports the operators' verdicts (a query of the feedback and predictions tables), copies
# the frames they name, fine-tunes, evaluates and registers the new version in the registry in the
# models bucket (new version folders, the `shadow` pointer and history.json are overwritten), with
# its event row in model_versions. It never promotes; `current` changes only by a person.
resource "google_project_iam_member" "loop_bigquery_jobs" {
  project = var.project_id
  role    = "roles/bigquery.jobUser"
  member  = local.loop
}

resource "google_bigquery_dataset_iam_member" "loop_rows" {
  dataset_id = google_bigquery_dataset.firewatch.dataset_id
  role       = "roles/bigquery.dataEditor"
  member     = local.loop
}

resource "google_storage_bucket_iam_member" "loop_read_frames" {
  bucket = google_storage_bucket.frames.name
  role   = "roles/storage.objectViewer"
  member = local.loop
}

resource "google_storage_bucket_iam_member" "loop_registry" {
  bucket = google_storage_bucket.models.name
  role   = "roles/storage.objectAdmin"
  member = local.loop
}

# Cloud Scheduler creates the loop's CustomJob with an OAuth token of this account.
resource "google_project_iam_member" "scheduler_vertex_jobs" {
  project = var.project_id
  role    = "roles/aiplatform.user"
  member  = local.scheduler
}

resource "google_service_account_iam_member" "scheduler_acts_as_loop" {
  service_account_id = google_service_account.loop.name
  role               = "roles/iam.serviceAccountUser"
  member             = local.scheduler
}

# Whoever runs the printed `gcloud scheduler jobs create http` names the scheduler's account.
resource "google_service_account_iam_member" "launcher_acts_as_scheduler" {
  service_account_id = google_service_account.scheduler.name
  role               = "roles/iam.serviceAccountUser"
  member             = local.launcher
}

resource "google_project_iam_member" "launcher_schedules" {
  #checkov:skip=CKV_GCP_49:creating a Cloud Scheduler job is a project-level role; the launcher can act only as the scheduler's account here
  project = var.project_id
  role    = "roles/cloudscheduler.admin"
  member  = local.launcher
}
