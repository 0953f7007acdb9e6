# infra/resources.json, the one declaration of Firewatch's resources, read as Terraform data: the topics
# (pubsub.tf) and the dataset and tables (bigquery.tf) are created from it with for_each, keyed by name.
locals {
  declaration = jsondecode(file("${path.module}/../resources.json"))
  topics      = { for key, topic in local.declaration.topics : topic.name => topic }
  tables      = { for key, table in local.declaration.tables : table.name => table }
}
