# The node tier on ECS Fargate: a cluster, the task (mxgate + a CloudWatch agent sidecar that
# turns /metrics into CloudWatch metrics), the service behind the three target groups, and
# autoscaling on CPU and on open connections per node.

resource "aws_ecs_cluster" "this" {
  name = var.name
  setting {
    name  = "containerInsights"
    value = "enabled"
  }
  tags = local.tags
}

resource "aws_cloudwatch_log_group" "nodes" {
  name              = "/${var.name}/nodes"
  retention_in_days = var.log_retention_days
  kms_key_id        = local.use_kms ? var.kms_key_arn : null
  tags              = local.tags
}

# The agent writes the scraped metrics as Embedded Metric Format logs here.
resource "aws_cloudwatch_log_group" "metrics" {
  name              = "/${var.name}/metrics"
  retention_in_days = 7
  kms_key_id        = local.use_kms ? var.kms_key_arn : null
  tags              = local.tags
}

locals {
  metrics_namespace = "mxgate"
  # The mxgate metrics the dashboard, the alarms and the autoscaler read (deploy/observability
  # lists the Prometheus side; tests/deploy/test_observability.py checks they exist).
  exported_metrics = [
    "mxgate_connections_active",
    "mxgate_messages_accepted_total",
    "mxgate_messages_temp_failed_total",
    "mxgate_smtp_replies_2xx_total",
    "mxgate_smtp_replies_4xx_total",
    "mxgate_smtp_replies_5xx_total",
    "mxgate_tls_handshake_failures_total",
    "mxgate_spool_depth",
    "mxgate_spool_oldest_record_age_seconds",
    "mxgate_rate_limit_refusals_total",
  ]
  # Per event sink (label sink="<name>"), published with a sink dimension.
  exported_sink_metrics = [
    "mxgate_outbox_depth",
    "mxgate_outbox_oldest_event_age_seconds",
    "mxgate_outbox_dead_letters",
  ]
  sinks = concat(["sqs"], var.enable_msk ? ["kafka"] : [])
  prometheus_config = yamlencode({
    global = { scrape_interval = "30s", scrape_timeout = "10s" }
    scrape_configs = [{
      job_name       = "mxgate"
      metrics_path   = "/metrics"
      static_configs = [{ targets = ["localhost:${local.http_port}"], labels = { ServiceName = var.name } }]
    }]
  })
  cloudwatch_agent_config = jsonencode({
    logs = {
      metrics_collected = {
        prometheus = {
          prometheus_config_path = "env:PROMETHEUS_CONFIG_CONTENT"
          log_group_name         = aws_cloudwatch_log_group.metrics.name
          emf_processor = {
            metric_namespace = local.metrics_namespace
            metric_declaration = [
              {
                source_labels    = ["job"]
                label_matcher    = "^mxgate$"
                dimensions       = [["ServiceName"]]
                metric_selectors = [for m in local.exported_metrics : "^${m}$"]
              },
              {
                source_labels    = ["job"]
                label_matcher    = "^mxgate$"
                dimensions       = [["ServiceName", "sink"]]
                metric_selectors = [for m in local.exported_sink_metrics : "^${m}$"]
              },
            ]
          }
        }
      }
    }
  })
}

resource "aws_ecs_task_definition" "node" {
  family                   = "${var.name}-node"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.task_cpu
  memory                   = var.task_memory
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task.arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }

  ephemeral_storage {
    size_in_gib = var.ephemeral_storage_gib
  }

  # /var/lib/mxgate: spool, outboxes, generated TLS pair (ephemeral: ack_after = "store").
  volume {
    name = "state"
  }

  container_definitions = jsonencode([
    {
      name                   = "mxgate"
      image                  = var.container_image
      essential              = true
      readonlyRootFilesystem = true
      stopTimeout            = local.stop_timeout
      portMappings = concat(
        [for k, l in local.listeners : { containerPort = l.container_port, protocol = "tcp", name = k }],
        [{ containerPort = local.http_port, protocol = "tcp", name = "http" }],
      )
      environment = [for k in sort(keys(local.environment)) : { name = k, value = local.environment[k] }]
      secrets     = [for k in sort(keys(var.secret_environment)) : { name = k, valueFrom = var.secret_environment[k] }]
      mountPoints = [{ sourceVolume = "state", containerPath = "/var/lib/mxgate", readOnly = false }]
      ulimits     = [{ name = "nofile", softLimit = 65536, hardLimit = 65536 }]
      healthCheck = {
        command     = ["CMD", "bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/${local.http_port} && printf 'GET /healthz HTTP/1.0\\r\\n\\r\\n' >&3 && head -n1 <&3 | grep -q ' 200 '"]
        interval    = 10
        timeout     = 3
        retries     = 3
        startPeriod = 15
      }
      logConfiguration = {
        logDriver = "awslogs"
        options = {
          "awslogs-group"         = aws_cloudwatch_log_group.nodes.name
          "awslogs-region"        = data.aws_region.current.name
          "awslogs-stream-prefix" = "mxgate"
        }
      }
    },
    {
      name      = "cloudwatch-agent"
      image     = var.cloudwatch_agent_image
      essential = false
      environment = [
        { name = "CW_CONFIG_CONTENT", value = local.cloudwatch_agent_config },
        { name = "PROMETHEUS_CONFIG_CONTENT", value = local.prometheus_config },
      ]
      dependsOn = [{ containerName = "mxgate", condition = "START" }]
      logConfiguration = {
        logDriver = "awslogs"
        options = {
          "awslogs-group"         = aws_cloudwatch_log_group.nodes.name
          "awslogs-region"        = data.aws_region.current.name
          "awslogs-stream-prefix" = "cloudwatch-agent"
        }
      }
    },
  ])

  tags = local.tags
}

resource "aws_ecs_service" "nodes" {
  name                               = "${var.name}-nodes"
  cluster                            = aws_ecs_cluster.this.id
  task_definition                    = aws_ecs_task_definition.node.arn
  launch_type                        = "FARGATE"
  platform_version                   = "LATEST"
  desired_count                      = var.min_tasks
  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200
  health_check_grace_period_seconds  = 30
  enable_execute_command             = false
  propagate_tags                     = "SERVICE"
  wait_for_steady_state              = false

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  network_configuration {
    subnets          = var.private_subnet_ids
    security_groups  = [aws_security_group.nodes.id]
    assign_public_ip = false
  }

  dynamic "load_balancer" {
    for_each = local.listeners
    content {
      target_group_arn = aws_lb_target_group.smtp[load_balancer.key].arn
      container_name   = "mxgate"
      container_port   = load_balancer.value.container_port
    }
  }

  lifecycle {
    ignore_changes = [desired_count] # the autoscaler owns it
  }

  depends_on = [aws_lb_listener.smtp]
  tags       = local.tags
}

resource "aws_appautoscaling_target" "nodes" {
  service_namespace  = "ecs"
  resource_id        = "service/${aws_ecs_cluster.this.name}/${aws_ecs_service.nodes.name}"
  scalable_dimension = "ecs:service:DesiredCount"
  min_capacity       = var.min_tasks
  max_capacity       = var.max_tasks
}

resource "aws_appautoscaling_policy" "cpu" {
  name               = "${var.name}-cpu"
  service_namespace  = aws_appautoscaling_target.nodes.service_namespace
  resource_id        = aws_appautoscaling_target.nodes.resource_id
  scalable_dimension = aws_appautoscaling_target.nodes.scalable_dimension
  policy_type        = "TargetTrackingScaling"
  target_tracking_scaling_policy_configuration {
    target_value = var.cpu_target_percent
    predefined_metric_specification {
      predefined_metric_type = "ECSServiceAverageCPUUtilization"
    }
    scale_in_cooldown  = 300
    scale_out_cooldown = 60
  }
}

# Open SMTP connections per node (mxgate_connections_active, averaged over the tasks):
# connections, not CPU, bound an idle-heavy MX tier.
resource "aws_appautoscaling_policy" "connections" {
  name               = "${var.name}-connections"
  service_namespace  = aws_appautoscaling_target.nodes.service_namespace
  resource_id        = aws_appautoscaling_target.nodes.resource_id
  scalable_dimension = aws_appautoscaling_target.nodes.scalable_dimension
  policy_type        = "TargetTrackingScaling"
  target_tracking_scaling_policy_configuration {
    target_value = var.connections_per_task_target
    customized_metric_specification {
      metric_name = "mxgate_connections_active"
      namespace   = local.metrics_namespace
      statistic   = "Average"
      dimensions {
        name  = "ServiceName"
        value = var.name
      }
    }
    scale_in_cooldown  = 300
    scale_out_cooldown = 60
  }
}
