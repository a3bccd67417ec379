# SMTP over WebSocket as virtual connections: an API Gateway WebSocket API whose routes go
# to the websocket Lambda, and the DynamoDB table that holds each connection's SMTP session
# state between frames (DESIGN.md "Scaling out").

resource "aws_dynamodb_table" "connections" {
  count        = local.websocket_on ? 1 : 0
  name         = "${var.name}-connections"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "connection_id"

  attribute {
    name = "connection_id"
    type = "S"
  }

  ttl {
    attribute_name = "expires_at"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = local.use_kms ? var.kms_key_arn : null
  }

  tags = local.tags
}

resource "aws_apigatewayv2_api" "websocket" {
  count                      = local.websocket_on ? 1 : 0
  name                       = "${var.name}-websocket"
  protocol_type              = "WEBSOCKET"
  route_selection_expression = "$request.body.action"
  tags                       = local.tags
}

resource "aws_apigatewayv2_integration" "websocket" {
  count                     = local.websocket_on ? 1 : 0
  api_id                    = aws_apigatewayv2_api.websocket[0].id
  integration_type          = "AWS_PROXY"
  integration_method        = "POST"
  integration_uri           = aws_lambda_function.websocket[0].invoke_arn
  content_handling_strategy = "CONVERT_TO_TEXT"
}

resource "aws_apigatewayv2_route" "websocket" {
  for_each  = local.websocket_on ? toset(["$connect", "$disconnect", "$default"]) : toset([])
  api_id    = aws_apigatewayv2_api.websocket[0].id
  route_key = each.key
  target    = "integrations/${aws_apigatewayv2_integration.websocket[0].id}"
}

resource "aws_cloudwatch_log_group" "websocket_access" {
  count             = local.websocket_on ? 1 : 0
  name              = "/${var.name}/websocket-access"
  retention_in_days = var.log_retention_days
  kms_key_id        = local.use_kms ? var.kms_key_arn : null
  tags              = local.tags
}

resource "aws_apigatewayv2_stage" "websocket" {
  count       = local.websocket_on ? 1 : 0
  api_id      = aws_apigatewayv2_api.websocket[0].id
  name        = "live"
  auto_deploy = true

  default_route_settings {
    throttling_burst_limit = 500
    throttling_rate_limit  = 1000
  }

  # WebSocket access logs need the account's API Gateway CloudWatch role
  # (manage_apigateway_account_role creates it, for accounts that have none).
  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.websocket_access[0].arn
    format = jsonencode({
      requestId    = "$context.requestId"
      connectionId = "$context.connectionId"
      routeKey     = "$context.routeKey"
      status       = "$context.status"
      ip           = "$context.identity.sourceIp"
      error        = "$context.integrationErrorMessage"
    })
  }

  depends_on = [aws_api_gateway_account.this]
  tags       = local.tags
}

resource "aws_iam_role" "apigateway_logs" {
  count = local.websocket_on && var.manage_apigateway_account_role ? 1 : 0
  name  = "${var.name}-apigateway-logs"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "apigateway.amazonaws.com" }
      Action    = "sts:AssumeRole"
      Condition = { StringEquals = { "aws:SourceAccount" = data.aws_caller_identity.current.account_id } }
    }]
  })
  tags = local.tags
}

resource "aws_iam_role_policy" "apigateway_logs" {
  count = local.websocket_on && var.manage_apigateway_account_role ? 1 : 0
  name  = "access-logs"
  role  = aws_iam_role.apigateway_logs[0].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect = "Allow"
      Action = ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogGroups", "logs:DescribeLogStreams"]
      Resource = [
        aws_cloudwatch_log_group.websocket_access[0].arn,
        "${aws_cloudwatch_log_group.websocket_access[0].arn}:*",
      ]
    }]
  })
}

# Account-wide (one per region): set only when asked.
resource "aws_api_gateway_account" "this" {
  count               = local.websocket_on && var.manage_apigateway_account_role ? 1 : 0
  cloudwatch_role_arn = aws_iam_role.apigateway_logs[0].arn
}

resource "aws_lambda_permission" "websocket" {
  count         = local.websocket_on ? 1 : 0
  statement_id  = "AllowApiGateway"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.websocket[0].function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.websocket[0].execution_arn}/*"
}
