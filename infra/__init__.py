"""Firewatch infrastructure: the local emulator stack and the one declaration of cloud resources.

`infra.stack` starts/stops the Pub/Sub, BigQuery and GCS emulators; `infra.resources` creates the
topics, subscriptions, dataset, tables and buckets declared in `infra/resources.json`, on the
emulators or on a real project; `firewatch.cli.infra_commands` exposes both as
`firewatch stack ...` / `firewatch infra ...`.
"""
