# infra/resources.json, the one declaration of Firewatch's resources, read as Terraform data: the topics
# and plain subscriptions (pubsub.tf) and the dataset and tables (bigquery.tf) are created from it with for_each, keyed by name.
locals {
  declaration = jsondecode(file("${path.module}/../resources.json"))
  topics      = { for key, topic in local.declaration.topics : topic.name => topic }
  tables      = { for key, table in local.declaration.tables : table.name => table }
  # The plain pull subscriptions; alerts-sub (dead letters, retries) and notify-sub (push) are written out.
  pull_subscriptions = {
    for key, sub in local.declaration.subscriptions : sub.name => sub
    if !can(sub.dead_letter_topic) && !can(sub.push_on_cloud)
  }
}
