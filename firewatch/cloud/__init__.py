"""Google Cloud glue: client factories (emulator or real endpoints), the local stack's environment,
file storage (local or gs://), the BigQuery row writer and model loading."""
