# IAM, least privilege: each role gets the actions its code calls on the resources it uses,
# nothing on "*" except the X-Ray trace calls (which have no resource-level permissions).

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
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

# ---- ECS task execution: pull the image, write the logs, read the secrets ------------------

resource "aws_iam_role" "execution" {
  name               = "${var.name}-execution"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
  tags               = local.tags
}

data "aws_iam_policy_document" "execution" {
  statement {
    sid       = "PullImages"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"] # GetAuthorizationToken has no resource-level permissions
  }
  statement {
    sid       = "PullLayers"
    actions   = ["ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"]
    resources = ["arn:${data.aws_partition.current.partition}:ecr:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:repository/*"]
  }
  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.nodes.arn}:*"]
  }
  dynamic "statement" {
    for_each = length(var.secret_environment) > 0 ? [1] : []
    content {
      sid       = "Secrets"
      actions   = ["secretsmanager:GetSecretValue", "ssm:GetParameters"]
      resources = distinct([for arn in values(var.secret_environment) : split(":", arn)[2] == "ssm" ? arn : "${arn}*"])
    }
  }
}

resource "aws_iam_role_policy" "execution" {
  name   = "execution"
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.execution.json
}

# ---- the node (task role): S3 objects under the prefix, the event queue, MSK topics --------

resource "aws_iam_role" "task" {
  name               = "${var.name}-task"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
  tags               = local.tags
}

data "aws_iam_policy_document" "task" {
  statement {
    sid = "StoreObjects"
    # PutObject covers CreateMultipartUpload, UploadPart and CompleteMultipartUpload; the
    # ack gate and the pipeline read back with GET/HEAD.
    actions   = ["s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload"]
    resources = ["${aws_s3_bucket.mail.arn}/${var.store_prefix}/*"]
  }
  statement {
    sid       = "ListPrefix" # a HEAD of a missing key then answers 404, not 403
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.mail.arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${var.store_prefix}/*"]
    }
  }
  statement {
    sid       = "EventSink"
    actions   = ["sqs:SendMessage"] # SendMessageBatch is authorised as SendMessage
    resources = [aws_sqs_queue.events.arn]
  }
  statement {
    sid       = "MetricsAgent"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"]
    resources = [aws_cloudwatch_log_group.metrics.arn, "${aws_cloudwatch_log_group.metrics.arn}:*"]
  }
  dynamic "statement" {
    for_each = local.use_kms ? [1] : []
    content {
      sid       = "Kms"
      actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
      resources = [var.kms_key_arn]
    }
  }
  dynamic "statement" {
    for_each = var.enable_msk ? [1] : []
    content {
      sid       = "MskConnect"
      actions   = ["kafka-cluster:Connect", "kafka-cluster:DescribeCluster"]
      resources = [aws_msk_serverless_cluster.events[0].arn]
    }
  }
  dynamic "statement" {
    for_each = var.enable_msk ? [1] : []
    content {
      sid     = "MskWrite"
      actions = ["kafka-cluster:DescribeTopic", "kafka-cluster:CreateTopic", "kafka-cluster:WriteData"]
      # arn:...:topic/<cluster name>/<cluster uuid>/<topic>
      resources = ["${replace(aws_msk_serverless_cluster.events[0].arn, ":cluster/", ":topic/")}/${var.kafka_topic_prefix}*"]
    }
  }
}

resource "aws_iam_role_policy" "task" {
  name   = "node"
  role   = aws_iam_role.task.id
  policy = data.aws_iam_policy_document.task.json
}

# ---- VPC flow logs -------------------------------------------------------------------------

resource "aws_iam_role" "flow_logs" {
  name = "${var.name}-flow-logs"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "vpc-flow-logs.amazonaws.com" }
      Action    = "sts:AssumeRole"
      Condition = { StringEquals = { "aws:SourceAccount" = data.aws_caller_identity.current.account_id } }
    }]
  })
  tags = local.tags
}

resource "aws_iam_role_policy" "flow_logs" {
  name = "flow-logs"
  role = aws_iam_role.flow_logs.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"]
      Resource = [aws_cloudwatch_log_group.flow_logs.arn, "${aws_cloudwatch_log_group.flow_logs.arn}:*"]
    }]
  })
}

# ---- Lambda functions ------------------------------------------------------------------------

data "aws_iam_policy_document" "lambda_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "pipeline_lambda" {
  count              = local.lambda_on ? 1 : 0
  name               = "${var.name}-pipeline-lambda"
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json
  tags               = local.tags
}

data "aws_iam_policy_document" "pipeline_lambda" {
  count = local.lambda_on ? 1 : 0
  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.pipeline_lambda[0].arn}:*"]
  }
  statement {
    sid       = "Tracing"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"] # X-Ray has no resource-level permissions
  }
  statement {
    sid       = "IngestQueue"
    actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility"]
    resources = [aws_sqs_queue.ingest[0].arn]
  }
  statement {
    sid       = "DeadLetters"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.ingest_dlq[0].arn]
  }
  statement {
    sid       = "ReadRaw"
    actions   = ["s3:GetObject"]
    resources = ["${aws_s3_bucket.mail.arn}/${var.store_prefix}/*/raw/*"]
  }
  statement {
    sid     = "WriteParsed"
    actions = ["s3:PutObject", "s3:AbortMultipartUpload"]
    resources = [
      "${aws_s3_bucket.mail.arn}/${var.store_prefix}/*/parsed/*",
      "${aws_s3_bucket.mail.arn}/${var.store_prefix}/*/attachments/*",
    ]
  }
  statement {
    sid       = "EventSink"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.events.arn]
  }
  dynamic "statement" {
    for_each = local.use_kms ? [1] : []
    content {
      sid       = "Kms"
      actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
      resources = [var.kms_key_arn]
    }
  }
}

resource "aws_iam_role_policy" "pipeline_lambda" {
  count  = local.lambda_on ? 1 : 0
  name   = "pipeline"
  role   = aws_iam_role.pipeline_lambda[0].id
  policy = data.aws_iam_policy_document.pipeline_lambda[0].json
}

resource "aws_iam_role" "websocket_lambda" {
  count              = local.websocket_on ? 1 : 0
  name               = "${var.name}-websocket-lambda"
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json
  tags               = local.tags
}

data "aws_iam_policy_document" "websocket_lambda" {
  count = local.websocket_on ? 1 : 0
  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.websocket_lambda[0].arn}:*"]
  }
  statement {
    sid       = "Tracing"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"] # X-Ray has no resource-level permissions
  }
  statement {
    sid       = "Sessions"
    actions   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"]
    resources = [aws_dynamodb_table.connections[0].arn]
  }
  statement {
    sid       = "Reply"
    actions   = ["execute-api:ManageConnections"]
    resources = ["${aws_apigatewayv2_api.websocket[0].execution_arn}/${aws_apigatewayv2_stage.websocket[0].name}/POST/@connections/*"]
  }
  statement {
    sid       = "WriteRaw"
    actions   = ["s3:PutObject", "s3:AbortMultipartUpload"]
    resources = ["${aws_s3_bucket.mail.arn}/${var.store_prefix}/*/raw/*"]
  }
  statement {
    sid       = "DeadLetters"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.ingest_dlq[0].arn]
  }
  dynamic "statement" {
    for_each = local.use_kms ? [1] : []
    content {
      sid       = "Kms"
      actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
      resources = [var.kms_key_arn]
    }
  }
}

resource "aws_iam_role_policy" "websocket_lambda" {
  count  = local.websocket_on ? 1 : 0
  name   = "websocket"
  role   = aws_iam_role.websocket_lambda[0].id
  policy = data.aws_iam_policy_document.websocket_lambda[0].json
}
