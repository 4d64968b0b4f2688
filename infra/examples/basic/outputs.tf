output "master_endpoint" {
  description = "RESP address of the master inside the VPC."
  value       = module.ferry.master_endpoint
}

output "replica_endpoint" {
  description = "RESP address of the replicas inside the VPC."
  value       = module.ferry.replica_endpoint
}

output "lambda_function_url" {
  description = "Base URL for Upstash-compatible clients (UPSTASH_REDIS_REST_URL)."
  value       = module.ferry.lambda_function_url
}

output "http_token_secret_arn" {
  description = "Secret holding the bearer token (UPSTASH_REDIS_REST_TOKEN)."
  value       = module.ferry.http_token_secret_arn
}

output "bucket" {
  description = "The snapshot bucket."
  value       = module.ferry.bucket
}
