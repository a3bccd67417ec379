# The mail bucket (raw .eml, parsed .json, attachments: DESIGN.md "Storage layout"), a log
# bucket for the NLB's access logs, and the queues: `events` (the nodes' SQS event sink) and
# `ingest` (S3 ObjectCreated on raw/ -> the Lambda pipeline), each with a dead-letter queue.

resource "aws_s3_bucket" "mail" {
  bucket = local.bucket_name
  tags   = local.tags
}

resource "aws_s3_bucket_public_access_block" "mail" {
  bucket                  = aws_s3_bucket.mail.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "mail" {
  bucket = aws_s3_bucket.mail.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "mail" {
  bucket = aws_s3_bucket.mail.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = local.use_kms ? "aws:kms" : "AES256"
      kms_master_key_id = local.use_kms ? var.kms_key_arn : null
    }
    bucket_key_enabled = local.use_kms
  }
}

resource "aws_s3_bucket_versioning" "mail" {
  bucket = aws_s3_bucket.mail.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "mail" {
  bucket = aws_s3_bucket.mail.id

  rule {
    id     = "mail"
    status = "Enabled"
    filter {
      prefix = "${var.store_prefix}/"
    }
    transition {
      days          = var.raw_transition_days
      storage_class = "STANDARD_IA"
    }
    dynamic "expiration" {
      for_each = var.expiration_days > 0 ? [var.expiration_days] : []
      content {
        days = expiration.value
      }
    }
    noncurrent_version_expiration {
      noncurrent_days = 30
    }
  }

  rule {
    id     = "abort-incomplete-multipart"
    status = "Enabled"
    filter {}
    abort_incomplete_multipart_upload {
      days_after_initiation = 2
    }
  }
}

# TLS only; nothing else is granted here (the roles' own policies grant access).
resource "aws_s3_bucket_policy" "mail" {
  bucket = aws_s3_bucket.mail.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "DenyInsecureTransport"
      Effect    = "Deny"
      Principal = { AWS = "*" }
      Action    = "s3:*"
      Resource  = [aws_s3_bucket.mail.arn, "${aws_s3_bucket.mail.arn}/*"]
      Condition = { Bool = { "aws:SecureTransport" = "false" } }
    }]
  })
  depends_on = [aws_s3_bucket_public_access_block.mail]
}

# S3 -> SQS -> Lambda: a new raw message is an event on the ingest queue.
resource "aws_s3_bucket_notification" "mail" {
  count  = local.lambda_on ? 1 : 0
  bucket = aws_s3_bucket.mail.id
  queue {
    queue_arn     = aws_sqs_queue.ingest[0].arn
    events        = ["s3:ObjectCreated:*"]
    filter_prefix = "${var.store_prefix}/"
    filter_suffix = ".eml"
  }
  depends_on = [aws_sqs_queue_policy.ingest]
}

# ---- the NLB's access logs ----------------------------------------------------------------

resource "aws_s3_bucket" "logs" {
  bucket = "${local.bucket_name}-logs"
  tags   = local.tags
}

resource "aws_s3_bucket_public_access_block" "logs" {
  bucket                  = aws_s3_bucket.logs.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_server_side_encryption_configuration" "logs" {
  bucket = aws_s3_bucket.logs.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256" # log delivery supports SSE-S3 only
    }
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "logs" {
  bucket = aws_s3_bucket.logs.id
  rule {
    id     = "expire"
    status = "Enabled"
    filter {}
    expiration {
      days = var.flow_logs_retention_days
    }
  }
}

resource "aws_s3_bucket_policy" "logs" {
  bucket = aws_s3_bucket.logs.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "NlbAccessLogs"
        Effect    = "Allow"
        Principal = { Service = "delivery.logs.amazonaws.com" }
        Action    = "s3:PutObject"
        Resource  = "${aws_s3_bucket.logs.arn}/nlb/AWSLogs/${data.aws_caller_identity.current.account_id}/*"
        Condition = { StringEquals = { "aws:SourceAccount" = data.aws_caller_identity.current.account_id } }
      },
      {
        Sid       = "NlbAccessLogsAcl"
        Effect    = "Allow"
        Principal = { Service = "delivery.logs.amazonaws.com" }
        Action    = "s3:GetBucketAcl"
        Resource  = aws_s3_bucket.logs.arn
        Condition = { StringEquals = { "aws:SourceAccount" = data.aws_caller_identity.current.account_id } }
      },
      {
        Sid       = "DenyInsecureTransport"
        Effect    = "Deny"
        Principal = { AWS = "*" }
        Action    = "s3:*"
        Resource  = [aws_s3_bucket.logs.arn, "${aws_s3_bucket.logs.arn}/*"]
        Condition = { Bool = { "aws:SecureTransport" = "false" } }
      },
    ]
  })
  depends_on = [aws_s3_bucket_public_access_block.logs]
}

# ---- queues -------------------------------------------------------------------------------

resource "aws_sqs_queue" "events_dlq" {
  name                              = "${var.name}-events-dlq"
  message_retention_seconds         = 1209600
  sqs_managed_sse_enabled           = local.use_kms ? null : true
  kms_master_key_id                 = local.use_kms ? var.kms_key_arn : null
  kms_data_key_reuse_period_seconds = local.use_kms ? 300 : null
  tags                              = local.tags
}

# The nodes' event sink ([[sink]] kind = "sqs"); consumers read it, and what they fail to
# handle five times goes to the DLQ.
resource "aws_sqs_queue" "events" {
  name                              = "${var.name}-events"
  message_retention_seconds         = 345600
  visibility_timeout_seconds        = 60
  sqs_managed_sse_enabled           = local.use_kms ? null : true
  kms_master_key_id                 = local.use_kms ? var.kms_key_arn : null
  kms_data_key_reuse_period_seconds = local.use_kms ? 300 : null
  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.events_dlq.arn
    maxReceiveCount     = 5
  })
  tags = local.tags
}

resource "aws_sqs_queue" "ingest_dlq" {
  count                             = local.lambda_on ? 1 : 0
  name                              = "${var.name}-ingest-dlq"
  message_retention_seconds         = 1209600
  sqs_managed_sse_enabled           = local.use_kms ? null : true
  kms_master_key_id                 = local.use_kms ? var.kms_key_arn : null
  kms_data_key_reuse_period_seconds = local.use_kms ? 300 : null
  tags                              = local.tags
}

resource "aws_sqs_queue" "ingest" {
  count                             = local.lambda_on ? 1 : 0
  name                              = "${var.name}-ingest"
  message_retention_seconds         = 345600
  visibility_timeout_seconds        = 6 * var.lambda_timeout_seconds # AWS: at least 6x the function timeout
  sqs_managed_sse_enabled           = local.use_kms ? null : true
  kms_master_key_id                 = local.use_kms ? var.kms_key_arn : null
  kms_data_key_reuse_period_seconds = local.use_kms ? 300 : null
  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.ingest_dlq[0].arn
    maxReceiveCount     = 5
  })
  tags = local.tags
}

resource "aws_sqs_queue_policy" "ingest" {
  count     = local.lambda_on ? 1 : 0
  queue_url = aws_sqs_queue.ingest[0].url
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "S3ObjectCreated"
      Effect    = "Allow"
      Principal = { Service = "s3.amazonaws.com" }
      Action    = "sqs:SendMessage"
      Resource  = aws_sqs_queue.ingest[0].arn
      Condition = {
        ArnEquals    = { "aws:SourceArn" = aws_s3_bucket.mail.arn }
        StringEquals = { "aws:SourceAccount" = data.aws_caller_identity.current.account_id }
      }
    }]
  })
}
