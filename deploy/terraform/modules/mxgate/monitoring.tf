# A CloudWatch dashboard and the alarms docs/operations.md explains ("Alarms"): outbox age,
# dead letters (DLQ depth and the outboxes' dead-letter logs), the share of 4xx and 5xx SMTP
# replies, Lambda errors and throttles, the spool's age and the NLB's healthy targets. The
# mxgate_* figures come from the nodes' /metrics through the CloudWatch agent sidecar
# (ecs.tf; counters arrive as the change per scrape, so Sum over a period is a count).

resource "aws_sns_topic" "alarms" {
  name = "${var.name}-alarms"
  # CloudWatch cannot publish to a topic under the AWS-managed aws/sns key: only a customer
  # key (whose policy lets cloudwatch.amazonaws.com use it) encrypts the topic.
  kms_master_key_id = local.use_kms ? var.kms_key_arn : null
  tags              = local.tags
}

resource "aws_sns_topic_subscription" "alarms" {
  for_each  = toset(var.alarm_emails)
  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "email"
  endpoint  = each.value
}

locals {
  alarm_actions = [aws_sns_topic.alarms.arn]
  service_dim   = { ServiceName = var.name }
  reply_metric = {
    for c in ["2xx", "3xx", "4xx", "5xx"] : c => {
      metric_name = "mxgate_smtp_replies_${c}_total"
      namespace   = local.metrics_namespace
      period      = 300
      stat        = "Sum"
      dimensions  = local.service_dim
    }
  }
  dlqs = merge(
    { events = aws_sqs_queue.events_dlq.name },
    local.lambda_on ? { ingest = aws_sqs_queue.ingest_dlq[0].name } : {},
  )
  lambdas = merge(
    local.lambda_on ? { pipeline = aws_lambda_function.pipeline[0].function_name } : {},
    local.websocket_on ? { websocket = aws_lambda_function.websocket[0].function_name } : {},
  )
}

resource "aws_cloudwatch_metric_alarm" "outbox_age" {
  for_each            = toset(local.sinks)
  alarm_name          = "${var.name}-outbox-age-${each.key}"
  alarm_description   = "Events for sink ${each.key} wait longer than ${var.outbox_age_alarm_seconds}s: the sink is down or slow (docs/operations.md#outbox-age)."
  namespace           = local.metrics_namespace
  metric_name         = "mxgate_outbox_oldest_event_age_seconds"
  dimensions          = merge(local.service_dim, { sink = each.key })
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 5
  threshold           = var.outbox_age_alarm_seconds
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = local.tags
}

resource "aws_cloudwatch_metric_alarm" "outbox_dead_letters" {
  for_each            = toset(local.sinks)
  alarm_name          = "${var.name}-outbox-dead-letters-${each.key}"
  alarm_description   = "Events for sink ${each.key} were dead-lettered on a node (docs/operations.md#dead-letters)."
  namespace           = local.metrics_namespace
  metric_name         = "mxgate_outbox_dead_letters"
  dimensions          = merge(local.service_dim, { sink = each.key })
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  tags                = local.tags
}

resource "aws_cloudwatch_metric_alarm" "dlq_depth" {
  for_each            = local.dlqs
  alarm_name          = "${var.name}-dlq-${each.key}"
  alarm_description   = "Messages in the ${each.key} dead-letter queue (docs/operations.md#dlq-depth)."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = each.value }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = local.tags
}

# The share of replies in a class over 5 minutes, once there are at least 50 replies.
resource "aws_cloudwatch_metric_alarm" "reply_rate" {
  for_each = {
    "4xx" = var.reply_4xx_alarm_ratio
    "5xx" = var.reply_5xx_alarm_ratio
  }
  alarm_name          = "${var.name}-replies-${each.key}"
  alarm_description   = "More than ${each.value * 100}% of SMTP replies are ${each.key} (docs/operations.md#reply-rates)."
  evaluation_periods  = 2
  threshold           = each.value
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions

  dynamic "metric_query" {
    for_each = local.reply_metric
    content {
      id = "r${metric_query.key}"
      metric {
        metric_name = metric_query.value.metric_name
        namespace   = metric_query.value.namespace
        period      = metric_query.value.period
        stat        = metric_query.value.stat
        dimensions  = metric_query.value.dimensions
      }
    }
  }

  metric_query {
    id          = "share"
    expression  = "IF((r2xx + r3xx + r4xx + r5xx) >= 50, r${each.key} / (r2xx + r3xx + r4xx + r5xx), 0)"
    label       = "share of ${each.key} replies"
    return_data = true
  }

  tags = local.tags
}

resource "aws_cloudwatch_metric_alarm" "lambda_errors" {
  for_each            = local.lambdas
  alarm_name          = "${var.name}-lambda-errors-${each.key}"
  alarm_description   = "The ${each.key} Lambda function fails (docs/operations.md#lambda-errors)."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = each.value }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  tags                = local.tags
}

resource "aws_cloudwatch_metric_alarm" "lambda_throttles" {
  for_each            = local.lambdas
  alarm_name          = "${var.name}-lambda-throttles-${each.key}"
  alarm_description   = "The ${each.key} Lambda function is throttled at its reserved concurrency (docs/operations.md#lambda-throttles)."
  namespace           = "AWS/Lambda"
  metric_name         = "Throttles"
  dimensions          = { FunctionName = each.value }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 2
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  tags                = local.tags
}

resource "aws_cloudwatch_metric_alarm" "spool_age" {
  alarm_name          = "${var.name}-spool-age"
  alarm_description   = "A node's pipeline is behind: its oldest spooled message is over 5 minutes old (docs/operations.md#spool-age)."
  namespace           = local.metrics_namespace
  metric_name         = "mxgate_spool_oldest_record_age_seconds"
  dimensions          = local.service_dim
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 5
  threshold           = 300
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = local.tags
}

resource "aws_cloudwatch_metric_alarm" "healthy_targets" {
  for_each            = local.listeners
  alarm_name          = "${var.name}-healthy-${each.key}"
  alarm_description   = "No node answers /readyz behind port ${each.value.port} (docs/operations.md#no-healthy-nodes)."
  namespace           = "AWS/NetworkELB"
  metric_name         = "HealthyHostCount"
  dimensions          = { LoadBalancer = aws_lb.this.arn_suffix, TargetGroup = aws_lb_target_group.smtp[each.key].arn_suffix }
  statistic           = "Minimum"
  period              = 60
  evaluation_periods  = 3
  threshold           = 1
  comparison_operator = "LessThanThreshold"
  treat_missing_data  = "breaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = local.tags
}

resource "aws_cloudwatch_dashboard" "this" {
  dashboard_name = var.name
  dashboard_body = jsonencode({
    widgets = [
      {
        type = "metric", x = 0, y = 0, width = 12, height = 6
        properties = {
          title  = "Messages accepted and 451s (per 5 min)"
          region = data.aws_region.current.name
          stat   = "Sum", period = 300
          metrics = [
            [local.metrics_namespace, "mxgate_messages_accepted_total", "ServiceName", var.name],
            [local.metrics_namespace, "mxgate_messages_temp_failed_total", "ServiceName", var.name],
          ]
        }
      },
      {
        type = "metric", x = 12, y = 0, width = 12, height = 6
        properties = {
          title  = "SMTP replies by class (per 5 min)"
          region = data.aws_region.current.name
          stat   = "Sum", period = 300
          metrics = [for c in ["2xx", "3xx", "4xx", "5xx"] :
          [local.metrics_namespace, "mxgate_smtp_replies_${c}_total", "ServiceName", var.name]]
        }
      },
      {
        type = "metric", x = 0, y = 6, width = 12, height = 6
        properties = {
          title  = "Connections: open per node (avg) and NLB flows"
          region = data.aws_region.current.name
          period = 60
          metrics = concat(
            [[local.metrics_namespace, "mxgate_connections_active", "ServiceName", var.name, { stat = "Average" }]],
            [["AWS/NetworkELB", "ActiveFlowCount", "LoadBalancer", aws_lb.this.arn_suffix, { stat = "Average", yAxis = "right" }]],
          )
        }
      },
      {
        type = "metric", x = 12, y = 6, width = 12, height = 6
        properties = {
          title  = "Healthy nodes per listener"
          region = data.aws_region.current.name
          stat   = "Minimum", period = 60
          metrics = [for k, l in local.listeners :
          ["AWS/NetworkELB", "HealthyHostCount", "LoadBalancer", aws_lb.this.arn_suffix, "TargetGroup", aws_lb_target_group.smtp[k].arn_suffix]]
        }
      },
      {
        type = "metric", x = 0, y = 12, width = 12, height = 6
        properties = {
          title  = "Outbox age (s) and depth per sink"
          region = data.aws_region.current.name
          stat   = "Maximum", period = 60
          metrics = concat(
            [for s in local.sinks : [local.metrics_namespace, "mxgate_outbox_oldest_event_age_seconds", "ServiceName", var.name, "sink", s]],
            [for s in local.sinks : [local.metrics_namespace, "mxgate_outbox_depth", "ServiceName", var.name, "sink", s, { yAxis = "right" }]],
          )
        }
      },
      {
        type = "metric", x = 12, y = 12, width = 12, height = 6
        properties = {
          title  = "Spool: depth and oldest record (s)"
          region = data.aws_region.current.name
          stat   = "Maximum", period = 60
          metrics = [
            [local.metrics_namespace, "mxgate_spool_oldest_record_age_seconds", "ServiceName", var.name],
            [local.metrics_namespace, "mxgate_spool_depth", "ServiceName", var.name, { yAxis = "right" }],
          ]
        }
      },
      {
        type = "metric", x = 0, y = 18, width = 12, height = 6
        properties = {
          title   = "Dead-letter queues (visible messages)"
          region  = data.aws_region.current.name
          stat    = "Maximum", period = 300
          metrics = [for k, q in local.dlqs : ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", q]]
        }
      },
      {
        type = "metric", x = 12, y = 18, width = 12, height = 6
        properties = {
          title  = "Nodes: CPU and memory (%)"
          region = data.aws_region.current.name
          stat   = "Average", period = 60
          metrics = [
            ["AWS/ECS", "CPUUtilization", "ClusterName", aws_ecs_cluster.this.name, "ServiceName", aws_ecs_service.nodes.name],
            ["AWS/ECS", "MemoryUtilization", "ClusterName", aws_ecs_cluster.this.name, "ServiceName", aws_ecs_service.nodes.name],
          ]
        }
      },
      {
        type = "metric", x = 0, y = 24, width = 24, height = 6
        properties = {
          title  = "Lambda: invocations, errors, throttles"
          region = data.aws_region.current.name
          stat   = "Sum", period = 300
          metrics = flatten([for k, f in local.lambdas : [
            ["AWS/Lambda", "Invocations", "FunctionName", f],
            ["AWS/Lambda", "Errors", "FunctionName", f],
            ["AWS/Lambda", "Throttles", "FunctionName", f],
          ]])
        }
      },
    ]
  })
}
