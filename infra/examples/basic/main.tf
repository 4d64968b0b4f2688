# A complete ferry stack in an existing VPC: the snapshot bucket, a master
# and two replicas on Fargate, and a Lambda replica behind a Function URL.
#
#   cd infra/examples/basic
#   terraform init
#   terraform apply -var vpc_id=vpc-... -var 'subnet_ids=["subnet-...","subnet-..."]' \
#     -var image=123456789012.dkr.ecr.eu-west-1.amazonaws.com/ferry:v0.1.0 \
#     -var nats_url=nats://nats.internal:4222 -var lambda_zip=../../../bin/ferry-lambda.zip \
#     -var master_new_dataset=true        # the first time only

terraform {
  required_version = ">= 1.6"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.40"
    }
  }
}

provider "aws" {
  region = var.region

  default_tags {
    tags = {
      Project = "ferry"
    }
  }
}

module "ferry" {
  source = "../.."

  name    = "ferry-example"
  dataset = "default"

  vpc_id             = var.vpc_id
  subnet_ids         = var.subnet_ids
  client_cidr_blocks = var.client_cidr_blocks
  image              = var.image

  nats_url = var.nats_url
  nats_auth = {
    token = var.nats_token
  }

  master_new_dataset = var.master_new_dataset
  replica_count      = 2

  lambda_zip           = var.lambda_zip
  lambda_url_auth_type = "NONE"
}
