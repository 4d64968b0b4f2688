# Least privilege: the master (and the snapshotter, with
# snapshots_on_replica) reads and writes objects under its prefix;
# replicas (ECS and Lambda) only list and read them. Nobody else in this
# stack touches the bucket.

data "aws_iam_policy_document" "ecs_tasks_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

data "aws_iam_policy_document" "lambda_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

# Read-only access to the snapshots: list the prefix, get objects.
data "aws_iam_policy_document" "snapshots_read" {
  statement {
    sid       = "ListSnapshots"
    actions   = ["s3:ListBucket"]
    resources = [local.bucket_arn]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${var.snapshot_prefix}/*"]
    }
  }

  statement {
    sid       = "ReadSnapshots"
    actions   = ["s3:GetObject"]
    resources = [local.prefix_arn]
  }

  dynamic "statement" {
    for_each = var.kms_key_arn != null ? [var.kms_key_arn] : []

    content {
      sid       = "DecryptSnapshots"
      actions   = ["kms:Decrypt"]
      resources = [statement.value]
    }
  }
}

# The master's access: everything a replica has, plus writing snapshots
# (multipart uploads included) and deleting the ones past --snapshot-keep.
data "aws_iam_policy_document" "snapshots_write" {
  source_policy_documents = [data.aws_iam_policy_document.snapshots_read.json]

  statement {
    sid = "WriteSnapshots"
    actions = [
      "s3:PutObject",
      "s3:DeleteObject",
      "s3:AbortMultipartUpload",
      "s3:ListMultipartUploadParts",
    ]
    resources = [local.prefix_arn]
  }

  statement {
    sid       = "ListUploads"
    actions   = ["s3:ListBucketMultipartUploads"]
    resources = [local.bucket_arn]
  }

  dynamic "statement" {
    for_each = var.kms_key_arn != null ? [var.kms_key_arn] : []

    content {
      sid       = "EncryptSnapshots"
      actions   = ["kms:GenerateDataKey", "kms:Encrypt"]
      resources = [statement.value]
    }
  }
}

resource "aws_iam_role" "master" {
  name_prefix        = "${var.name}-master-"
  description        = "ferry master task: reads and writes snapshots under s3://${local.bucket_name}/${var.snapshot_prefix}/."
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
  tags               = local.tags
}

resource "aws_iam_role_policy" "master_snapshots" {
  name   = "snapshots-read-write"
  role   = aws_iam_role.master.id
  policy = data.aws_iam_policy_document.snapshots_write.json
}

resource "aws_iam_role" "replica" {
  name_prefix        = "${var.name}-replica-"
  description        = "ferry replica task: reads snapshots under s3://${local.bucket_name}/${var.snapshot_prefix}/."
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
  tags               = local.tags
}

resource "aws_iam_role_policy" "replica_snapshots" {
  name   = "snapshots-read"
  role   = aws_iam_role.replica.id
  policy = data.aws_iam_policy_document.snapshots_read.json
}

# The snapshotter (snapshots_on_replica) writes snapshots and deletes the
# ones past --snapshot-keep, as the master did: the master's access, in a
# role of its own so that the replicas' role stays read-only and each
# role's grants say what its task does.
resource "aws_iam_role" "snapshotter" {
  count              = var.snapshots_on_replica ? 1 : 0
  name_prefix        = "${var.name}-snapshotter-"
  description        = "ferry snapshotter task (a replica taking snapshots): reads and writes snapshots under s3://${local.bucket_name}/${var.snapshot_prefix}/."
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
  tags               = local.tags
}

resource "aws_iam_role_policy" "snapshotter_snapshots" {
  count  = var.snapshots_on_replica ? 1 : 0
  name   = "snapshots-read-write"
  role   = aws_iam_role.snapshotter[0].id
  policy = data.aws_iam_policy_document.snapshots_write.json
}

# The ECS agent's role: pull the image, write logs, read the two secrets.
resource "aws_iam_role" "execution" {
  name_prefix        = "${var.name}-exec-"
  description        = "ECS task execution role of ferry: image pull, logs, and ferry's secrets."
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
  tags               = local.tags
}

resource "aws_iam_role_policy_attachment" "execution" {
  role       = aws_iam_role.execution.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
}

data "aws_iam_policy_document" "execution_secrets" {
  statement {
    sid       = "ReadFerrySecrets"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [aws_secretsmanager_secret.nats.arn, aws_secretsmanager_secret.http_token.arn]
  }

  dynamic "statement" {
    for_each = var.kms_key_arn != null ? [var.kms_key_arn] : []

    content {
      sid       = "DecryptFerrySecrets"
      actions   = ["kms:Decrypt"]
      resources = [statement.value]
    }
  }
}

resource "aws_iam_role_policy" "execution_secrets" {
  name   = "ferry-secrets"
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.execution_secrets.json
}

# The Lambda replica: read snapshots, write its own logs.
resource "aws_iam_role" "lambda" {
  count              = var.lambda_enabled ? 1 : 0
  name_prefix        = "${var.name}-lambda-"
  description        = "ferry Lambda replica: reads snapshots under s3://${local.bucket_name}/${var.snapshot_prefix}/."
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json
  tags               = local.tags
}

data "aws_iam_policy_document" "lambda" {
  count                   = var.lambda_enabled ? 1 : 0
  source_policy_documents = [data.aws_iam_policy_document.snapshots_read.json]

  statement {
    sid       = "WriteOwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.lambda[0].arn}:*"]
  }
}

resource "aws_iam_role_policy" "lambda" {
  count  = var.lambda_enabled ? 1 : 0
  name   = "snapshots-read-and-logs"
  role   = aws_iam_role.lambda[0].id
  policy = data.aws_iam_policy_document.lambda[0].json
}

resource "aws_iam_role_policy_attachment" "lambda_vpc" {
  count      = var.lambda_enabled && var.lambda_in_vpc ? 1 : 0
  role       = aws_iam_role.lambda[0].name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"
}
