variable "region" {
  type        = string
  description = "AWS region of the stack."
  default     = "eu-west-1"
}

variable "vpc_id" {
  type        = string
  description = "VPC to run the ferry tasks in."
}

variable "subnet_ids" {
  type        = list(string)
  description = "Private subnets (with a NAT gateway or VPC endpoints for S3, ECR, Secrets Manager and CloudWatch Logs)."
}

variable "client_cidr_blocks" {
  type        = list(string)
  description = "Networks of the applications that talk RESP or HTTP to ferry."
  default     = ["10.0.0.0/8"]
}

variable "image" {
  type        = string
  description = "ferry's container image, pushed to a registry the tasks can pull from."
}

variable "nats_url" {
  type        = string
  description = "NATS server URL with JetStream enabled."
}

variable "nats_token" {
  type        = string
  description = "NATS authentication token (empty: none)."
  default     = ""
  sensitive   = true
}

variable "lambda_zip" {
  type        = string
  description = "Path of the zipped bootstrap built from cmd/ferry-lambda."
}

variable "master_new_dataset" {
  type        = bool
  description = "Set to true for the first deployment of a new dataset."
  default     = false
}
