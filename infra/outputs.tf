output "bucket" {
  description = "Name of the snapshot bucket."
  value       = aws_s3_bucket.snapshots.bucket
}

output "store_url" {
  description = "FERRY_STORE of every ferry process of this stack (s3://bucket/prefix)."
  value       = local.store_url
}

output "master_endpoint" {
  description = "RESP address of the master inside the VPC (service discovery)."
  value       = "master.${var.service_discovery_namespace}:${local.ports.resp}"
}

output "replica_endpoint" {
  description = "RESP address of the replicas inside the VPC (one DNS name, an A record per replica task)."
  value       = "replica.${var.service_discovery_namespace}:${local.ports.resp}"
}

output "lambda_function_name" {
  description = "Name of the Lambda replica function (null when lambda_enabled is false)."
  value       = one(aws_lambda_function.replica[*].function_name)
}

output "lambda_function_url" {
  description = "HTTPS URL of the Lambda replica's Function URL: the base URL of Upstash-compatible clients (null when lambda_enabled is false)."
  value       = one(aws_lambda_function_url.replica[*].function_url)
}

output "http_token_secret_arn" {
  description = "Secrets Manager secret holding the HTTP API's bearer token (read it with aws secretsmanager get-secret-value)."
  value       = aws_secretsmanager_secret.http_token.arn
}

output "nats_secret_arn" {
  description = "Secrets Manager secret holding the NATS credentials (JSON: user, password, token)."
  value       = aws_secretsmanager_secret.nats.arn
}

output "ecs_cluster_arn" {
  description = "ECS cluster running the master and replica services."
  value       = local.ecs_cluster_arn
}

output "ecs_services" {
  description = "Names of the ECS services, by role (snapshotter: null unless snapshots_on_replica)."
  value = {
    master      = aws_ecs_service.master.name
    replica     = aws_ecs_service.replica.name
    snapshotter = one(aws_ecs_service.snapshotter[*].name)
  }
}

output "security_group_id" {
  description = "Security group of the ferry tasks (add it to client_security_group_ids' sources, or reference it from clients' rules)."
  value       = aws_security_group.ferry.id
}

output "role_arns" {
  description = "IAM roles, by job: master and snapshotter (snapshots read/write; snapshotter null unless snapshots_on_replica), replica and lambda (snapshots read-only), execution (ECS agent)."
  value = {
    master      = aws_iam_role.master.arn
    snapshotter = one(aws_iam_role.snapshotter[*].arn)
    replica     = aws_iam_role.replica.arn
    lambda      = one(aws_iam_role.lambda[*].arn)
    execution   = aws_iam_role.execution.arn
  }
}

output "log_groups" {
  description = "CloudWatch log groups, by role (snapshotter: null unless snapshots_on_replica)."
  value = {
    master      = aws_cloudwatch_log_group.ecs["master"].name
    replica     = aws_cloudwatch_log_group.ecs["replica"].name
    snapshotter = try(aws_cloudwatch_log_group.ecs["snapshotter"].name, null)
    lambda      = one(aws_cloudwatch_log_group.lambda[*].name)
  }
}
