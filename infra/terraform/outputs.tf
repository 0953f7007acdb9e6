output "image_registry" {
  description = "Where `firewatch deploy build` pushes the images."
  value       = "${var.region}-docker.pkg.dev/${var.project_id}/${google_artifact_registry_repository.firewatch.repository_id}"
}

output "workers_service_account" {
  description = "Pass to `firewatch deploy run --service-account` (the default name)."
  value       = google_service_account.workers.email
}

output "buckets" {
  description = "Frames, models, Dataflow (templates, staging, temp) and Cloud Build (sources, logs) buckets."
  value = {
    frames   = google_storage_bucket.frames.url
    models   = google_storage_bucket.models.url
    dataflow = google_storage_bucket.dataflow.url
    builds   = google_storage_bucket.builds.url
  }
}
