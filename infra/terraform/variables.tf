variable "project_id" {
  description = "Google Cloud project that hosts Firewatch."
  type        = string
}

variable "region" {
  description = "Region for Dataflow, Artifact Registry and the buckets."
  type        = string
  default     = "europe-west1"
}

variable "bigquery_location" {
  description = "BigQuery dataset location (a region or multi-region such as EU or US)."
  type        = string
  default     = "EU"
}

variable "frames_retention_days" {
  description = "Days a camera frame (and its explanation overlay) is kept in the frames bucket."
  type        = number
  default     = 30
}

variable "alert_max_delivery_attempts" {
  description = "Deliveries of an alert to a consumer before it goes to the alerts dead-letter topic."
  type        = number
  default     = 10
}

variable "console_operators" {
  description = "Who may open the console through IAP: user:EMAIL, group:EMAIL or domain:DOMAIN members."
  type        = set(string)
  default     = []
}
