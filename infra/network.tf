# Security groups: clients reach RESP and the HTTP API, monitoring reaches
# the metrics and health endpoints; the tasks reach out to NATS, S3 and the
# registry.

resource "aws_security_group" "ferry" {
  name_prefix = "${var.name}-"
  description = "ferry master and replica tasks"
  vpc_id      = var.vpc_id
  tags        = merge(local.tags, { Name = "${var.name}-tasks" })

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_egress_rule" "ferry_all" {
  security_group_id = aws_security_group.ferry.id
  description       = "NATS, S3, Secrets Manager, the image registry, CloudWatch Logs"
  ip_protocol       = "-1"
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_ingress_rule" "client_cidr" {
  for_each = {
    for pair in setproduct(var.client_cidr_blocks, ["resp", "http"]) : "${pair[0]}-${pair[1]}" => {
      cidr = pair[0]
      port = local.ports[pair[1]]
    }
  }
  security_group_id = aws_security_group.ferry.id
  description       = "ferry clients (port ${each.value.port})"
  ip_protocol       = "tcp"
  from_port         = each.value.port
  to_port           = each.value.port
  cidr_ipv4         = each.value.cidr
}

resource "aws_vpc_security_group_ingress_rule" "client_sg" {
  for_each = {
    for pair in setproduct(var.client_security_group_ids, ["resp", "http"]) : "${pair[0]}-${pair[1]}" => {
      sg   = pair[0]
      port = local.ports[pair[1]]
    }
  }
  security_group_id            = aws_security_group.ferry.id
  description                  = "ferry clients (port ${each.value.port})"
  ip_protocol                  = "tcp"
  from_port                    = each.value.port
  to_port                      = each.value.port
  referenced_security_group_id = each.value.sg
}

resource "aws_vpc_security_group_ingress_rule" "metrics" {
  for_each          = toset(var.metrics_cidr_blocks)
  security_group_id = aws_security_group.ferry.id
  description       = "Prometheus metrics and health checks"
  ip_protocol       = "tcp"
  from_port         = local.ports.metrics
  to_port           = local.ports.metrics
  cidr_ipv4         = each.value
}

# The Lambda function, when it runs in the VPC, only reaches out.
resource "aws_security_group" "lambda" {
  count       = var.lambda_enabled && var.lambda_in_vpc ? 1 : 0
  name_prefix = "${var.name}-lambda-"
  description = "ferry Lambda replica"
  vpc_id      = var.vpc_id
  tags        = merge(local.tags, { Name = "${var.name}-lambda" })

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_egress_rule" "lambda_all" {
  count             = var.lambda_enabled && var.lambda_in_vpc ? 1 : 0
  security_group_id = aws_security_group.lambda[0].id
  description       = "NATS and S3"
  ip_protocol       = "-1"
  cidr_ipv4         = "0.0.0.0/0"
}

# Service discovery: master.<namespace> and replica.<namespace>.
resource "aws_service_discovery_private_dns_namespace" "this" {
  name        = var.service_discovery_namespace
  description = "ferry dataset ${var.dataset}"
  vpc         = var.vpc_id
  tags        = local.tags
}

resource "aws_service_discovery_service" "this" {
  for_each = toset(["master", "replica"])
  name     = each.key

  dns_config {
    namespace_id   = aws_service_discovery_private_dns_namespace.this.id
    routing_policy = "MULTIVALUE"

    dns_records {
      type = "A"
      ttl  = 10
    }
  }

  health_check_custom_config {
    failure_threshold = 1
  }

  tags = local.tags
}
