# ferry on AWS: the snapshot bucket, least-privilege roles, the master and
# replicas on ECS Fargate, and Lambda replicas behind a Function URL, all
# following one dataset's log on NATS JetStream. See README.md
# ("Deploying with Terraform").

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

data "aws_region" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.name

  bucket_name = coalesce(var.bucket_name, "${var.name}-snapshots-${local.account_id}")
  store_url   = "s3://${aws_s3_bucket.snapshots.bucket}/${var.snapshot_prefix}"
  bucket_arn  = aws_s3_bucket.snapshots.arn
  prefix_arn  = "${aws_s3_bucket.snapshots.arn}/${var.snapshot_prefix}/*"

  ecs_cluster_arn = var.ecs_cluster_arn != null ? var.ecs_cluster_arn : aws_ecs_cluster.this[0].arn

  tags = merge({ "ferry:dataset" = var.dataset, "ferry:stack" = var.name }, var.tags)

  # Settings every ferry process shares (FERRY_<FLAG>, see ferry <command> -h).
  common_environment = merge({
    FERRY_NATS            = var.nats_url
    FERRY_DATASET         = var.dataset
    FERRY_STORE           = local.store_url
    FERRY_S3_REGION       = local.region
    FERRY_STREAM_REPLICAS = tostring(var.nats_stream_replicas)
    FERRY_LOG_FORMAT      = "json"
  }, var.extra_environment)

  # Settings of the long-running ferry containers (ports as in the image).
  container_environment = merge(local.common_environment, {
    FERRY_ADDR         = "0.0.0.0:6379"
    FERRY_HTTP_ADDR    = "0.0.0.0:8080"
    FERRY_METRICS_ADDR = "0.0.0.0:9090"
  })

  # Where the replicas (tasks and Lambda) read the log: a mirror of the
  # stream when replica_log_mirror is set.
  replica_mirror_environment = var.replica_log_mirror != null ? { FERRY_LOG_MIRROR = var.replica_log_mirror } : {}

  # How the snapshot writer encrypts what it uploads: the master, or the
  # snapshotter when snapshots_on_replica is true.
  snapshot_sse_environment = {
    FERRY_S3_SSE            = var.kms_key_arn != null ? "aws:kms" : "AES256"
    FERRY_S3_SSE_KMS_KEY_ID = var.kms_key_arn != null ? var.kms_key_arn : ""
  }

  # With snapshots_on_replica the master takes no scheduled snapshot (0
  # turns off the interval and the count): it spends nothing on them and
  # only takes the one of a clean shutdown.
  master_environment = merge(local.container_environment, local.snapshot_sse_environment, {
    FERRY_NEW_DATASET       = tostring(var.master_new_dataset)
    FERRY_SNAPSHOT_INTERVAL = var.snapshots_on_replica ? "0" : var.snapshot_interval
    FERRY_STREAM_MAX_AGE    = var.nats_stream_max_age
  }, var.snapshots_on_replica ? { FERRY_SNAPSHOT_AFTER_WRITES = "0" } : {})

  # The snapshotter is a replica that takes the dataset's snapshots on the
  # master's former schedule, and applies the retention (snapshot-keep),
  # which trims the log below the oldest snapshot kept: its NATS user (the
  # nats_auth all tasks share) must be allowed to purge the stream, or the
  # log is never trimmed (a failed trim is logged and retried).
  snapshotter_environment = merge(local.container_environment, local.snapshot_sse_environment, {
    FERRY_TAKE_SNAPSHOTS    = "true"
    FERRY_SNAPSHOT_INTERVAL = var.snapshot_interval
  })

  # Secrets the ECS agent reads from Secrets Manager into the containers'
  # environment (secret ARN, then :json-key::).
  container_secrets = [
    { name = "FERRY_NATS_USER", valueFrom = "${aws_secretsmanager_secret.nats.arn}:user::" },
    { name = "FERRY_NATS_PASSWORD", valueFrom = "${aws_secretsmanager_secret.nats.arn}:password::" },
    { name = "FERRY_NATS_TOKEN", valueFrom = "${aws_secretsmanager_secret.nats.arn}:token::" },
    { name = "FERRY_HTTP_TOKEN", valueFrom = aws_secretsmanager_secret.http_token.arn },
  ]

  ports = {
    resp    = 6379
    http    = 8080
    metrics = 9090
  }
}
