# The Lambda replica behind a Function URL: cmd/ferry-lambda built as
# bootstrap for provided.al2023. It answers the Upstash-compatible HTTP API;
# every call must present the bearer token (FERRY_HTTP_TOKEN), and with
# lambda_url_auth_type = "AWS_IAM" a SigV4 signature as well.
#
# Lambda cannot read Secrets Manager into its environment by itself: the
# token and the NATS credentials are copied from the same values the
# secrets hold into the function's environment, encrypted at rest with
# kms_key_arn when given.

locals {
  lambda_name = "${var.name}-replica"

  lambda_environment = merge(local.common_environment, local.replica_mirror_environment, {
    FERRY_MAX_STALENESS = var.lambda_max_staleness
    FERRY_HTTP_TOKEN    = random_password.http_token.result
    FERRY_NATS_USER     = var.nats_auth.user
    FERRY_NATS_PASSWORD = var.nats_auth.password
    FERRY_NATS_TOKEN    = var.nats_auth.token
  })
}

resource "aws_cloudwatch_log_group" "lambda" {
  count             = var.lambda_enabled ? 1 : 0
  name              = "/aws/lambda/${local.lambda_name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = local.tags
}

resource "aws_lambda_function" "replica" {
  count                          = var.lambda_enabled ? 1 : 0
  function_name                  = local.lambda_name
  description                    = "ferry read replica of dataset ${var.dataset} (HTTP API)"
  role                           = aws_iam_role.lambda[0].arn
  runtime                        = "provided.al2023"
  handler                        = "bootstrap"
  architectures                  = [var.lambda_architecture]
  filename                       = var.lambda_zip
  source_code_hash               = var.lambda_zip != null ? filebase64sha256(var.lambda_zip) : null
  memory_size                    = var.lambda_memory
  timeout                        = var.lambda_timeout
  reserved_concurrent_executions = var.lambda_reserved_concurrency
  kms_key_arn                    = var.kms_key_arn
  tags                           = local.tags

  environment {
    variables = local.lambda_environment
  }

  logging_config {
    log_format = "Text"
    log_group  = aws_cloudwatch_log_group.lambda[0].name
  }

  dynamic "vpc_config" {
    for_each = var.lambda_in_vpc ? [var.subnet_ids] : []

    content {
      subnet_ids         = vpc_config.value
      security_group_ids = [aws_security_group.lambda[0].id]
    }
  }

  depends_on = [aws_iam_role_policy.lambda, aws_iam_role_policy_attachment.lambda_vpc]

  lifecycle {
    precondition {
      condition     = var.lambda_zip != null
      error_message = "lambda_zip must name the deployment package (cmd/ferry-lambda built as bootstrap, zipped) when lambda_enabled is true."
    }
  }
}

resource "aws_lambda_function_url" "replica" {
  count              = var.lambda_enabled ? 1 : 0
  function_name      = aws_lambda_function.replica[0].function_name
  authorization_type = var.lambda_url_auth_type

  dynamic "cors" {
    for_each = length(var.lambda_cors_origins) > 0 ? [var.lambda_cors_origins] : []

    content {
      allow_origins = cors.value
      allow_methods = ["GET", "POST"]
      allow_headers = ["authorization", "content-type", "upstash-sync-token", "upstash-encoding"]
      max_age       = 600
    }
  }
}

# Who may call the Function URL: anyone holding the token (NONE), or the
# listed principals (AWS_IAM).
resource "aws_lambda_permission" "url_public" {
  count                  = var.lambda_enabled && var.lambda_url_auth_type == "NONE" ? 1 : 0
  statement_id           = "FunctionURLAllowPublicAccess"
  action                 = "lambda:InvokeFunctionUrl"
  function_name          = aws_lambda_function.replica[0].function_name
  principal              = "*"
  function_url_auth_type = "NONE"
}

resource "aws_lambda_permission" "url_iam" {
  for_each               = var.lambda_enabled && var.lambda_url_auth_type == "AWS_IAM" ? toset(var.lambda_invoker_arns) : toset([])
  statement_id           = "FunctionURLInvoke${substr(sha256(each.value), 0, 12)}"
  action                 = "lambda:InvokeFunctionUrl"
  function_name          = aws_lambda_function.replica[0].function_name
  principal              = each.value
  function_url_auth_type = "AWS_IAM"
}
