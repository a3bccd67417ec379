# Names, ports and the node's settings shared by the other files.

locals {
  tags = merge({ "app" = "mxgate", "mxgate:name" = var.name }, var.tags)

  # NLB listener => node listener. 25 and 587 are TCP pass-through (STARTTLS is the node's);
  # 465 is TLS terminated by the NLB (ACM certificate) and reaches a plaintext listener that
  # counts the session as TLS because the PROXY header comes from the VPC (tls_at_proxy).
  listeners = {
    smtp       = { port = 25, protocol = "TCP", container_port = 2525 }
    submission = { port = 587, protocol = "TCP", container_port = 2587 }
    smtps      = { port = 465, protocol = "TLS", container_port = 2465 }
  }
  http_port = 8025

  # ECS deregisters a task from its target groups and waits the deregistration delay before
  # SIGTERM; sessions keep running meanwhile, then mxgate drains for server.drain_timeout.
  deregistration_delay = var.drain_timeout_seconds
  stop_timeout         = min(120, var.drain_timeout_seconds + 30)

  bucket_name = var.bucket_name != "" ? var.bucket_name : "${var.name}-mail-${data.aws_caller_identity.current.account_id}"
  use_kms     = var.kms_key_arn != ""
  lambda_on   = var.lambda_zip != ""
  # SMTP over WebSocket as virtual connections (issue 12 part 2) is not built yet: opt in.
  websocket_on = local.lambda_on && var.lambda_websocket

  # Every setting of the node, as MXGATE_* variables (docs/config.md); the image's config
  # (deploy/docker/mxgate.toml) supplies the paths under /var/lib/mxgate.
  environment = merge(
    {
      MXGATE_SERVER_HOSTNAME       = var.hostname
      MXGATE_SERVER_DRAIN_TIMEOUT  = "${var.drain_timeout_seconds}s"
      MXGATE_SERVER_SHUTDOWN_DELAY = "0s" # ECS deregisters before SIGTERM
      MXGATE_HTTP_LISTEN           = "0.0.0.0:${local.http_port}"

      MXGATE_LISTENER_SMTP_LISTEN          = "0.0.0.0:${local.listeners.smtp.container_port}"
      MXGATE_LISTENER_SMTP_PROXY_PROTOCOL  = "true"
      MXGATE_LISTENER_SMTP_TRUSTED_PROXIES = var.vpc_cidr

      MXGATE_LISTENER_SUBMISSION_LISTEN          = "0.0.0.0:${local.listeners.submission.container_port}"
      MXGATE_LISTENER_SUBMISSION_PROXY_PROTOCOL  = "true"
      MXGATE_LISTENER_SUBMISSION_TRUSTED_PROXIES = var.vpc_cidr

      MXGATE_LISTENER_SMTPS_KIND            = "submission"
      MXGATE_LISTENER_SMTPS_LISTEN          = "0.0.0.0:${local.listeners.smtps.container_port}"
      MXGATE_LISTENER_SMTPS_PROXY_PROTOCOL  = "true"
      MXGATE_LISTENER_SMTPS_TRUSTED_PROXIES = var.vpc_cidr
      MXGATE_LISTENER_SMTPS_TLS_AT_PROXY    = "true"
      MXGATE_LISTENER_SMTPS_REQUIRE_TLS     = "true"
      MXGATE_LISTENER_SMTPS_AUTH_REQUIRED   = "true"

      MXGATE_STORE_BACKEND          = "s3"
      MXGATE_STORE_S3_BUCKET        = aws_s3_bucket.mail.bucket
      MXGATE_STORE_S3_REGION        = data.aws_region.current.name
      MXGATE_STORE_S3_PREFIX        = var.store_prefix
      MXGATE_STORE_S3_ACK_AFTER     = var.ack_after
      MXGATE_STORE_S3_SSE           = local.use_kms ? "aws:kms" : "AES256"
      MXGATE_STORE_S3_KMS_KEY_ID    = var.kms_key_arn
      MXGATE_TENANT_DEFAULT_DOMAINS = join(",", var.mail_domains)

      MXGATE_SINK_SQS_KIND      = "sqs"
      MXGATE_SINK_SQS_QUEUE_URL = aws_sqs_queue.events.url
      MXGATE_SINK_SQS_REGION    = data.aws_region.current.name
    },
    var.enable_msk ? {
      MXGATE_SINK_KAFKA_KIND    = "kafka"
      MXGATE_SINK_KAFKA_BROKERS = aws_msk_serverless_cluster.events[0].bootstrap_brokers_sasl_iam
      MXGATE_SINK_KAFKA_AUTH    = "msk_iam"
      MXGATE_SINK_KAFKA_REGION  = data.aws_region.current.name
    } : {},
    var.enable_redis ? {
      MXGATE_RATE_LIMITS_BACKEND   = "redis"
      MXGATE_RATE_LIMITS_REDIS_URL = "redis://${aws_elasticache_replication_group.rate_limits[0].primary_endpoint_address}:6379/0"
    } : {},
    var.extra_environment,
  )
}
