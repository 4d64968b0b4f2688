# The master and the replicas on ECS Fargate (and, with
# snapshots_on_replica, the snapshotter). One master per dataset:
# deployments stop the old master before starting the new one (a second
# master would be fenced by the log anyway, and refuse writes).

resource "aws_ecs_cluster" "this" {
  count = var.ecs_cluster_arn == null ? 1 : 0
  name  = var.name
  tags  = local.tags

  setting {
    name  = "containerInsights"
    value = "enabled"
  }
}

resource "aws_cloudwatch_log_group" "ecs" {
  for_each          = local.containers
  name              = "/ecs/${var.name}/${each.key}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = local.tags
}

locals {
  # One container definition (and log group) per role; the image's
  # entrypoint is /ferry, the command is the ferry command. The snapshotter
  # is there only with snapshots_on_replica.
  all_containers = {
    master = {
      command     = "master"
      environment = local.master_environment
      role_arn    = aws_iam_role.master.arn
      cpu         = var.master_cpu
      memory      = var.master_memory
    }
    replica = {
      command     = "replica"
      environment = merge(local.container_environment, local.replica_mirror_environment)
      role_arn    = aws_iam_role.replica.arn
      cpu         = var.replica_cpu
      memory      = var.replica_memory
    }
    snapshotter = {
      command     = "replica"
      environment = local.snapshotter_environment
      role_arn    = one(aws_iam_role.snapshotter[*].arn)
      # It holds the dataset and takes its snapshots, as the master did.
      cpu    = coalesce(var.snapshotter_cpu, var.master_cpu)
      memory = coalesce(var.snapshotter_memory, var.master_memory)
    }
  }
  containers = {
    for role, c in local.all_containers : role => c
    if role != "snapshotter" || var.snapshots_on_replica
  }
}

resource "aws_ecs_task_definition" "this" {
  for_each                 = local.containers
  family                   = "${var.name}-${each.key}"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = each.value.cpu
  memory                   = each.value.memory
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = each.value.role_arn
  tags                     = local.tags

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.cpu_architecture
  }

  container_definitions = jsonencode([{
    name      = "ferry"
    image     = var.image
    command   = [each.value.command]
    essential = true
    # SIGTERM lets ferry finish: the master takes its shutdown snapshot.
    stopTimeout = 120
    portMappings = [for name, port in local.ports : {
      name          = name
      containerPort = port
      protocol      = "tcp"
    }]
    environment = [for k in sort(keys(each.value.environment)) : {
      name  = k
      value = each.value.environment[k]
    }]
    secrets = local.container_secrets
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.ecs[each.key].name
        awslogs-region        = local.region
        awslogs-stream-prefix = "ferry"
      }
    }
  }])
}

resource "aws_ecs_service" "master" {
  name            = "${var.name}-master"
  cluster         = local.ecs_cluster_arn
  task_definition = aws_ecs_task_definition.this["master"].arn
  launch_type     = "FARGATE"
  desired_count   = 1
  # Never two masters at once during a deployment.
  deployment_minimum_healthy_percent = 0
  deployment_maximum_percent         = 100
  enable_execute_command             = false
  propagate_tags                     = "SERVICE"
  tags                               = local.tags

  network_configuration {
    subnets          = var.subnet_ids
    security_groups  = [aws_security_group.ferry.id]
    assign_public_ip = var.assign_public_ip
  }

  service_registries {
    registry_arn = aws_service_discovery_service.this["master"].arn
  }

  depends_on = [aws_iam_role_policy.master_snapshots, aws_iam_role_policy.execution_secrets]
}

resource "aws_ecs_service" "replica" {
  name                               = "${var.name}-replica"
  cluster                            = local.ecs_cluster_arn
  task_definition                    = aws_ecs_task_definition.this["replica"].arn
  launch_type                        = "FARGATE"
  desired_count                      = var.replica_count
  deployment_minimum_healthy_percent = 50
  deployment_maximum_percent         = 200
  propagate_tags                     = "SERVICE"
  tags                               = local.tags

  network_configuration {
    subnets          = var.subnet_ids
    security_groups  = [aws_security_group.ferry.id]
    assign_public_ip = var.assign_public_ip
  }

  service_registries {
    registry_arn = aws_service_discovery_service.this["replica"].arn
  }

  depends_on = [aws_iam_role_policy.replica_snapshots, aws_iam_role_policy.execution_secrets]

  lifecycle {
    # Autoscaling may change the count.
    ignore_changes = [desired_count]
  }
}

# The replica that takes the snapshots (snapshots_on_replica), so that
# the master spends nothing on them: one task, in the replicas' subnets
# and security group, with no service discovery name (nobody connects to
# it; its metrics and health endpoints are on port 9090 like every
# task's). A deployment stops the old task first so that two snapshotters
# do not both write and trim; two would be safe (each names its snapshots
# with a generation of its own) but would only double the work.
resource "aws_ecs_service" "snapshotter" {
  count                              = var.snapshots_on_replica ? 1 : 0
  name                               = "${var.name}-snapshotter"
  cluster                            = local.ecs_cluster_arn
  task_definition                    = aws_ecs_task_definition.this["snapshotter"].arn
  launch_type                        = "FARGATE"
  desired_count                      = 1
  deployment_minimum_healthy_percent = 0
  deployment_maximum_percent         = 100
  enable_execute_command             = false
  propagate_tags                     = "SERVICE"
  tags                               = local.tags

  network_configuration {
    subnets          = var.subnet_ids
    security_groups  = [aws_security_group.ferry.id]
    assign_public_ip = var.assign_public_ip
  }

  depends_on = [aws_iam_role_policy.snapshotter_snapshots, aws_iam_role_policy.execution_secrets]
}
