# Firewatch on Google Cloud: everything the streaming and batch jobs need, declared once.
# Names, schemas, partitioning and clustering come from ../resources.json and ../schemas/*.json,
# the files `firewatch infra apply` uses on the emulators (tests/cloud/test_terraform.py checks it).
terraform {
  required_version = ">= 1.5"
  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "~> 6.0"
    }
    # google_project_service_identity (IAP's service agent) is in the beta provider only.
    google-beta = {
      source  = "hashicorp/google-beta"
      version = "~> 6.0"
    }
  }
}

provider "google" {
  project = var.project_id
  region  = var.region
}

provider "google-beta" {
  project = var.project_id
  region  = var.region
}

data "google_project" "this" {
  project_id = var.project_id
}
