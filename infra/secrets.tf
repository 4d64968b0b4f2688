# Secrets: the NATS credentials and the bearer token of the HTTP API.

resource "aws_secretsmanager_secret" "nats" {
  name_prefix = "${var.name}-nats-"
  description = "NATS credentials of ferry dataset ${var.dataset} (JSON: user, password, token)."
  kms_key_id  = var.kms_key_arn
  tags        = local.tags
}

resource "aws_secretsmanager_secret_version" "nats" {
  secret_id = aws_secretsmanager_secret.nats.id
  secret_string = jsonencode({
    user     = var.nats_auth.user
    password = var.nats_auth.password
    token    = var.nats_auth.token
  })
}

resource "random_password" "http_token" {
  length  = 48
  special = false
}

resource "aws_secretsmanager_secret" "http_token" {
  name_prefix = "${var.name}-http-token-"
  description = "Bearer token of ferry's HTTP API (FERRY_HTTP_TOKEN) for dataset ${var.dataset}."
  kms_key_id  = var.kms_key_arn
  tags        = local.tags
}

resource "aws_secretsmanager_secret_version" "http_token" {
  secret_id     = aws_secretsmanager_secret.http_token.id
  secret_string = random_password.http_token.result
}
