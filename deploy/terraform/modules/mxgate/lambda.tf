# The Lambda side (created when var.lambda_zip names the artefact of the Lambda issue: a zip
# holding mxgate's `bootstrap` for the provided.al2023 runtime):
#   - pipeline: S3 ObjectCreated (raw/*.eml) -> the ingest queue -> this function, with
#     partial batch failures (only the failed records come back), reserved concurrency,
#     X-Ray active tracing and a dead-letter queue (the ingest queue's redrive after five
#     receives; the function's own DLQ for asynchronous invocations);
#   - websocket: SMTP over WebSocket as virtual connections (websocket.tf).
# The pipeline function is `mxgate-lambda` (docs/lambda.md): its environment is ordinary
# MXGATE_* configuration (an unknown MXGATE_* variable is an init error). The websocket
# function (var.lambda_websocket, default off) is for part 2 of the Lambda issue, which is
# not built yet: the bootstrap does not handle API Gateway WebSocket events.

resource "aws_cloudwatch_log_group" "pipeline_lambda" {
  count             = local.lambda_on ? 1 : 0
  name              = "/aws/lambda/${var.name}-pipeline"
  retention_in_days = var.log_retention_days
  kms_key_id        = local.use_kms ? var.kms_key_arn : null
  tags              = local.tags
}

resource "aws_lambda_function" "pipeline" {
  count                          = local.lambda_on ? 1 : 0
  function_name                  = "${var.name}-pipeline"
  role                           = aws_iam_role.pipeline_lambda[0].arn
  filename                       = var.lambda_zip
  source_code_hash               = filebase64sha256(var.lambda_zip)
  runtime                        = "provided.al2023"
  handler                        = "bootstrap"
  architectures                  = ["x86_64"]
  memory_size                    = var.lambda_memory_mb
  timeout                        = var.lambda_timeout_seconds
  reserved_concurrent_executions = var.lambda_reserved_concurrency
  kms_key_arn                    = local.use_kms ? var.kms_key_arn : null

  tracing_config {
    mode = "Active"
  }

  dead_letter_config {
    target_arn = aws_sqs_queue.ingest_dlq[0].arn
  }

  environment {
    variables = {
      MXGATE_STORE_BACKEND      = "s3"
      MXGATE_STORE_S3_BUCKET    = aws_s3_bucket.mail.bucket
      MXGATE_STORE_S3_REGION    = data.aws_region.current.name
      MXGATE_STORE_S3_PREFIX    = var.store_prefix
      MXGATE_SINK_SQS_KIND      = "sqs"
      MXGATE_SINK_SQS_QUEUE_URL = aws_sqs_queue.events.url
    }
  }

  depends_on = [aws_cloudwatch_log_group.pipeline_lambda, aws_iam_role_policy.pipeline_lambda]
  tags       = local.tags
}

resource "aws_lambda_event_source_mapping" "ingest" {
  count                              = local.lambda_on ? 1 : 0
  event_source_arn                   = aws_sqs_queue.ingest[0].arn
  function_name                      = aws_lambda_function.pipeline[0].arn
  batch_size                         = var.lambda_batch_size
  maximum_batching_window_in_seconds = 1
  function_response_types            = ["ReportBatchItemFailures"]
  scaling_config {
    maximum_concurrency = max(2, var.lambda_reserved_concurrency)
  }
}

resource "aws_cloudwatch_log_group" "websocket_lambda" {
  count             = local.websocket_on ? 1 : 0
  name              = "/aws/lambda/${var.name}-websocket"
  retention_in_days = var.log_retention_days
  kms_key_id        = local.use_kms ? var.kms_key_arn : null
  tags              = local.tags
}

resource "aws_lambda_function" "websocket" {
  count                          = local.websocket_on ? 1 : 0
  function_name                  = "${var.name}-websocket"
  role                           = aws_iam_role.websocket_lambda[0].arn
  filename                       = var.lambda_zip
  source_code_hash               = filebase64sha256(var.lambda_zip)
  runtime                        = "provided.al2023"
  handler                        = "bootstrap"
  architectures                  = ["x86_64"]
  memory_size                    = var.lambda_memory_mb
  timeout                        = 29 # API Gateway's integration limit
  reserved_concurrent_executions = var.lambda_reserved_concurrency
  kms_key_arn                    = local.use_kms ? var.kms_key_arn : null

  tracing_config {
    mode = "Active"
  }

  dead_letter_config {
    target_arn = aws_sqs_queue.ingest_dlq[0].arn
  }

  environment {
    variables = {
      MXGATE_LAMBDA_HANDLER        = "websocket"
      MXGATE_LAMBDA_SESSIONS_TABLE = aws_dynamodb_table.connections[0].name
      MXGATE_SERVER_HOSTNAME       = var.hostname
      MXGATE_STORE_BACKEND         = "s3"
      MXGATE_STORE_S3_BUCKET       = aws_s3_bucket.mail.bucket
      MXGATE_STORE_S3_REGION       = data.aws_region.current.name
      MXGATE_STORE_S3_PREFIX       = var.store_prefix
    }
  }

  depends_on = [aws_cloudwatch_log_group.websocket_lambda, aws_iam_role_policy.websocket_lambda]
  tags       = local.tags
}
