# Naming and the dataset

variable "name" {
  type        = string
  description = "Prefix of every resource's name (bucket, roles, cluster, function, log groups)."
  default     = "ferry"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}$", var.name))
    error_message = "The name must be 2-31 lower-case letters, digits or dashes, starting with a letter."
  }
}

variable "dataset" {
  type        = string
  description = "ferry dataset name (FERRY_DATASET): the log is the JetStream stream FERRY_<DATASET>, snapshots live under <prefix>/<dataset>/."
  default     = "default"
}

variable "tags" {
  type        = map(string)
  description = "Tags added to every resource that takes tags."
  default     = {}
}

# Snapshot bucket

variable "bucket_name" {
  type        = string
  description = "Name of the snapshot bucket to create; null names it <name>-snapshots-<account id>."
  default     = null
}

variable "snapshot_prefix" {
  type        = string
  description = "Key prefix of the snapshots in the bucket (FERRY_STORE is s3://<bucket>/<prefix>); the IAM policies grant access to this prefix only."
  default     = "ferry"

  validation {
    condition     = can(regex("^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$", var.snapshot_prefix))
    error_message = "The prefix must be non-empty, without leading or trailing slashes."
  }
}

variable "kms_key_arn" {
  type        = string
  description = "KMS key for the bucket's default encryption (SSE-KMS) and the secrets; null uses SSE-S3 (AES256) and the AWS-managed secrets key."
  default     = null
}

variable "noncurrent_snapshot_days" {
  type        = number
  description = "Days a replaced or deleted snapshot object (a noncurrent version) is kept before the lifecycle rule expires it."
  default     = 7
}

variable "abort_incomplete_upload_days" {
  type        = number
  description = "Days after which multipart uploads of snapshots that never completed are aborted."
  default     = 2
}

variable "force_destroy" {
  type        = bool
  description = "Let terraform destroy delete the bucket with its snapshots in it."
  default     = false
}

# NATS (the replication log)

variable "nats_url" {
  type        = string
  description = "NATS server URL(s) with JetStream, comma-separated (FERRY_NATS), reachable from the tasks and the Lambda function."
}

variable "nats_auth" {
  type = object({
    user     = optional(string, "")
    password = optional(string, "")
    token    = optional(string, "")
  })
  description = "NATS credentials, stored in a Secrets Manager secret and handed to ferry as FERRY_NATS_USER, FERRY_NATS_PASSWORD and FERRY_NATS_TOKEN (empty strings: not used)."
  default     = {}
  sensitive   = true
}

variable "nats_stream_replicas" {
  type        = number
  description = "Replicas of the JetStream stream on a clustered NATS (FERRY_STREAM_REPLICAS, 1-5)."
  default     = 1

  validation {
    condition     = var.nats_stream_replicas >= 1 && var.nats_stream_replicas <= 5
    error_message = "JetStream streams have 1 to 5 replicas."
  }
}

variable "nats_stream_max_age" {
  type        = string
  description = "How long the log keeps entries (FERRY_STREAM_MAX_AGE, a Go duration such as 168h); \"0\" keeps them until the master trims below its oldest snapshot."
  default     = "0"
}

# Network

variable "vpc_id" {
  type        = string
  description = "VPC of the ECS services (and of the Lambda function when lambda_in_vpc is true)."
}

variable "subnet_ids" {
  type        = list(string)
  description = "Subnets of the ECS tasks and, with lambda_in_vpc, of the Lambda function; they need a route to NATS, S3 and the image registry."
}

variable "assign_public_ip" {
  type        = bool
  description = "Give the Fargate tasks public IPs (subnets without a NAT gateway)."
  default     = false
}

variable "client_cidr_blocks" {
  type        = list(string)
  description = "CIDR blocks allowed to reach RESP (6379) and the HTTP API (8080) of the tasks."
  default     = []
}

variable "client_security_group_ids" {
  type        = list(string)
  description = "Security groups allowed to reach RESP (6379) and the HTTP API (8080) of the tasks."
  default     = []
}

variable "metrics_cidr_blocks" {
  type        = list(string)
  description = "CIDR blocks allowed to reach the metrics and health endpoints (9090: /metrics, /healthz, /readyz)."
  default     = []
}

variable "service_discovery_namespace" {
  type        = string
  description = "Private DNS namespace created for the services: clients reach master.<namespace>:6379 and replica.<namespace>:6379."
  default     = "ferry.internal"
}

# Containers (ECS Fargate)

variable "image" {
  type        = string
  description = "ferry's container image (built from the repository's Dockerfile), e.g. 123456789012.dkr.ecr.eu-west-1.amazonaws.com/ferry:v1.0.0."
}

variable "ecs_cluster_arn" {
  type        = string
  description = "ECS cluster to run the services in; null creates one named after var.name."
  default     = null
}

variable "cpu_architecture" {
  type        = string
  description = "CPU architecture of the Fargate tasks: X86_64 or ARM64 (the image must be built for it)."
  default     = "ARM64"

  validation {
    condition     = contains(["X86_64", "ARM64"], var.cpu_architecture)
    error_message = "cpu_architecture is X86_64 or ARM64."
  }
}

variable "master_cpu" {
  type        = number
  description = "Fargate CPU units of the master task (1024 = one vCPU)."
  default     = 1024
}

variable "master_memory" {
  type        = number
  description = "Memory of the master task in MiB: the dataset plus headroom for snapshots."
  default     = 2048
}

variable "replica_count" {
  type        = number
  description = "Number of replica tasks."
  default     = 2
}

variable "replica_cpu" {
  type        = number
  description = "Fargate CPU units of each replica task."
  default     = 512
}

variable "replica_memory" {
  type        = number
  description = "Memory of each replica task in MiB."
  default     = 1024
}

variable "master_new_dataset" {
  type        = bool
  description = "Let the master start an empty dataset when the store has no snapshot and the log no entry (FERRY_NEW_DATASET). Needed on the first deployment; a master never starts empty when either cannot be read."
  default     = false
}

variable "snapshot_interval" {
  type        = string
  description = "FERRY_SNAPSHOT_INTERVAL of the node taking snapshots, the master or (snapshots_on_replica) the snapshotter (Go duration): a snapshot when this long passed and anything changed."
  default     = "1h"
}

variable "snapshots_on_replica" {
  type        = bool
  description = "Run a snapshotter: one more replica task (<name>-snapshotter, ferry replica --take-snapshots) that takes the snapshots on snapshot_interval and applies their retention, while the master takes none but its shutdown snapshot. Its NATS user must be allowed to purge the stream (retention trims the log)."
  default     = false
}

variable "snapshotter_cpu" {
  type        = number
  description = "Fargate CPU units of the snapshotter task (snapshots_on_replica); null: master_cpu."
  default     = null
}

variable "snapshotter_memory" {
  type        = number
  description = "Memory of the snapshotter task in MiB (snapshots_on_replica): the dataset plus headroom for snapshots; null: master_memory."
  default     = null
}

variable "replica_log_mirror" {
  type        = string
  description = "A JetStream mirror of the dataset's stream FERRY_<DATASET> (say in this region's NATS cluster) for the replicas and the Lambda function to read the log from (ferry replica --log-mirror); null: the stream itself. The master and the snapshotter always use the stream."
  default     = null
}

variable "extra_environment" {
  type        = map(string)
  description = "More FERRY_* settings for every ferry task and the Lambda function (e.g. FERRY_REQUIREPASS is better left to a secret)."
  default     = {}
}

variable "log_retention_days" {
  type        = number
  description = "Retention of the CloudWatch log groups in days."
  default     = 30
}

# Lambda replicas

variable "lambda_enabled" {
  type        = bool
  description = "Deploy the Lambda replica behind a Function URL."
  default     = true
}

variable "lambda_zip" {
  type        = string
  description = "Path of the Lambda deployment package: a zip holding cmd/ferry-lambda built as bootstrap for provided.al2023 (GOOS=linux, CGO_ENABLED=0)."
  default     = null
}

variable "lambda_architecture" {
  type        = string
  description = "Architecture the bootstrap binary was built for: arm64 or x86_64."
  default     = "arm64"

  validation {
    condition     = contains(["arm64", "x86_64"], var.lambda_architecture)
    error_message = "lambda_architecture is arm64 or x86_64."
  }
}

variable "lambda_memory" {
  type        = number
  description = "Memory of the Lambda function in MiB (CPU grows with it): the dataset must fit."
  default     = 1024
}

variable "lambda_timeout" {
  type        = number
  description = "Timeout of one invocation in seconds; a cold start loads the newest snapshot within it."
  default     = 30
}

variable "lambda_reserved_concurrency" {
  type        = number
  description = "Reserved concurrent executions of the Lambda function; null leaves it unreserved."
  default     = null
}

variable "lambda_max_staleness" {
  type        = string
  description = "FERRY_MAX_STALENESS of the Lambda replica: how far behind the log an answer may be (Go duration); past it the function answers 503."
  default     = "1s"
}

variable "lambda_url_auth_type" {
  type        = string
  description = "Function URL authorization: NONE (callers present the bearer token from the http_token secret, as Upstash clients do) or AWS_IAM (SigV4-signed calls by lambda_invoker_arns, and the bearer token as well)."
  default     = "NONE"

  validation {
    condition     = contains(["NONE", "AWS_IAM"], var.lambda_url_auth_type)
    error_message = "lambda_url_auth_type is NONE or AWS_IAM."
  }
}

variable "lambda_invoker_arns" {
  type        = list(string)
  description = "IAM principals (role or user ARNs, or account ids) allowed to call the Function URL when lambda_url_auth_type is AWS_IAM."
  default     = []
}

variable "lambda_in_vpc" {
  type        = bool
  description = "Attach the Lambda function to subnet_ids (when NATS is only reachable inside the VPC; S3 then needs a gateway endpoint or a NAT)."
  default     = false
}

variable "lambda_cors_origins" {
  type        = list(string)
  description = "Origins allowed to call the Function URL from a browser (CORS); empty disables CORS."
  default     = []
}
