# Inputs of the mxgate module. Defaults suit a small production fleet; README.md explains
# how to size it (docs/operations.md "Sizing a node").

variable "name" {
  description = "Prefix of every resource name (lower case, digits, '-')."
  type        = string
  default     = "mxgate"
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,20}$", var.name))
    error_message = "name: 2-21 characters, lower case letters, digits and '-', starting with a letter."
  }
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}

# ---- network ------------------------------------------------------------------------------

variable "vpc_id" {
  description = "The VPC the NLB and the nodes live in."
  type        = string
}

variable "vpc_cidr" {
  description = "The VPC's CIDR: the only network allowed to reach the nodes' HTTP status port and to send them PROXY headers."
  type        = string
}

variable "public_subnet_ids" {
  description = "One public subnet per Availability Zone, for the NLB (each gets its own Elastic IP)."
  type        = list(string)
  validation {
    condition     = length(var.public_subnet_ids) >= 2
    error_message = "public_subnet_ids: at least two Availability Zones."
  }
}

variable "private_subnet_ids" {
  description = "Private subnets for the nodes (Fargate tasks), MSK and Redis; they need a route to S3, SQS, ECR and CloudWatch (NAT or VPC endpoints)."
  type        = list(string)
}

variable "flow_logs_retention_days" {
  description = "How long the VPC flow logs are kept."
  type        = number
  default     = 90
}

# ---- load balancer ------------------------------------------------------------------------

variable "certificate_arn" {
  description = "ACM certificate for the NLB's TLS listener on 465 (the MX hostname)."
  type        = string
}

variable "tls_policy" {
  description = "TLS policy of the 465 listener: TLS 1.3 and 1.2 with forward secrecy only."
  type        = string
  default     = "ELBSecurityPolicy-TLS13-1-2-2021-06"
  validation {
    condition     = startswith(var.tls_policy, "ELBSecurityPolicy-TLS13-")
    error_message = "tls_policy: use a TLS 1.3 policy (ELBSecurityPolicy-TLS13-*)."
  }
}

variable "health_check_interval_seconds" {
  description = "NLB health check interval on /readyz (5-300)."
  type        = number
  default     = 10
}

variable "health_check_unhealthy_threshold" {
  description = "Failed /readyz checks before a node stops getting new connections."
  type        = number
  default     = 2
}

# ---- nodes (ECS Fargate) ------------------------------------------------------------------

variable "container_image" {
  description = "The mxgate image (deploy/docker/Dockerfile), pinned by tag or digest."
  type        = string
}

variable "cloudwatch_agent_image" {
  description = "The CloudWatch agent sidecar that turns /metrics into CloudWatch metrics (pin the version you tested)."
  type        = string
  default     = "public.ecr.aws/cloudwatch-agent/cloudwatch-agent:1.247357.0b252275"
}

variable "hostname" {
  description = "server.hostname: the name in the greeting and EHLO reply (the MX hostname)."
  type        = string
}

variable "mail_domains" {
  description = "Domains the default tenant receives mail for (MXGATE_TENANT_DEFAULT_DOMAINS)."
  type        = list(string)
}

variable "task_cpu" {
  description = "Fargate task CPU units (1024 = 1 vCPU)."
  type        = number
  default     = 1024
}

variable "task_memory" {
  description = "Fargate task memory (MiB)."
  type        = number
  default     = 2048
}

variable "ephemeral_storage_gib" {
  description = "Fargate ephemeral storage (GiB, 21-200): the spool and outboxes live here."
  type        = number
  default     = 30
}

variable "min_tasks" {
  description = "Fewest nodes (keep at least one per AZ)."
  type        = number
  default     = 2
}

variable "max_tasks" {
  description = "Most nodes the autoscaler may run."
  type        = number
  default     = 20
}

variable "cpu_target_percent" {
  description = "Autoscaling target: average CPU of the service."
  type        = number
  default     = 60
}

variable "connections_per_task_target" {
  description = "Autoscaling target: average open SMTP connections per node (mxgate_connections_active)."
  type        = number
  default     = 2000
}

variable "drain_timeout_seconds" {
  description = "server.drain_timeout: how long sessions may finish after SIGTERM. The NLB's deregistration delay is this plus the shutdown delay; ECS's stopTimeout (max 120) covers both."
  type        = number
  default     = 30
  validation {
    condition     = var.drain_timeout_seconds >= 5 && var.drain_timeout_seconds <= 90
    error_message = "drain_timeout_seconds: 5-90 (Fargate stops a task at most 120 s after SIGTERM)."
  }
}

variable "ack_after" {
  description = "store.s3.ack_after: \"store\" (250 once S3 has the raw message: Fargate disks are ephemeral) or \"spool\"."
  type        = string
  default     = "store"
  validation {
    condition     = contains(["store", "spool"], var.ack_after)
    error_message = "ack_after: \"store\" or \"spool\"."
  }
}

variable "extra_environment" {
  description = "More MXGATE_* settings for the task (docs/config.md), e.g. { MXGATE_LIMITS_MAX_MESSAGE_SIZE = \"25MiB\" }."
  type        = map(string)
  default     = {}
  validation {
    condition     = alltrue([for k in keys(var.extra_environment) : startswith(k, "MXGATE_")])
    error_message = "extra_environment: keys must be MXGATE_* settings."
  }
}

variable "secret_environment" {
  description = "MXGATE_* settings taken from Secrets Manager or SSM (name => secret/parameter ARN), e.g. user password hashes."
  type        = map(string)
  default     = {}
}

variable "log_retention_days" {
  description = "How long the nodes' and the Lambda functions' logs are kept."
  type        = number
  default     = 30
}

# ---- storage and events -------------------------------------------------------------------

variable "bucket_name" {
  description = "S3 bucket for raw messages, parsed JSON and attachments (empty: <name>-mail-<account id>)."
  type        = string
  default     = ""
}

variable "store_prefix" {
  description = "store.s3.prefix: every object key starts with it."
  type        = string
  default     = "inbound"
}

variable "kms_key_arn" {
  description = "KMS key for the bucket, the queues and the table (empty: AWS-managed keys, SSE-S3 for the bucket)."
  type        = string
  default     = ""
}

variable "raw_transition_days" {
  description = "Days before objects move to STANDARD_IA."
  type        = number
  default     = 30
}

variable "expiration_days" {
  description = "Days before objects are deleted (0: never)."
  type        = number
  default     = 365
}

variable "enable_msk" {
  description = "Create an MSK Serverless cluster (IAM auth) and send events to it (a kafka sink with auth = msk_iam)."
  type        = bool
  default     = false
}

variable "kafka_topic_prefix" {
  description = "Topics the nodes may write: <prefix>* (the kafka sink's topic is mail.{tenant}.received)."
  type        = string
  default     = "mail."
}

variable "enable_redis" {
  description = "Create an ElastiCache Redis replication group for shared rate-limit counters (rate_limits.backend = redis)."
  type        = bool
  default     = false
}

variable "redis_node_type" {
  description = "ElastiCache node type."
  type        = string
  default     = "cache.t4g.small"
}

# ---- Lambda pipeline and WebSocket ---------------------------------------------------------

variable "lambda_zip" {
  description = "Path to the Lambda artefact: a zip with the mxgate `bootstrap` for the provided.al2023 runtime (built by the Lambda issue). Empty: no Lambda, no WebSocket API."
  type        = string
  default     = ""
}

variable "lambda_memory_mb" {
  description = "Memory of the Lambda functions (CPU scales with it)."
  type        = number
  default     = 1024
}

variable "lambda_timeout_seconds" {
  description = "Timeout of the pipeline Lambda; the ingest queue's visibility timeout is six times this."
  type        = number
  default     = 60
}

variable "lambda_reserved_concurrency" {
  description = "Reserved concurrency of the pipeline Lambda: bounds its load on S3 and the sinks."
  type        = number
  default     = 50
}

variable "lambda_batch_size" {
  description = "SQS messages (S3 events) per pipeline Lambda invocation."
  type        = number
  default     = 10
}

variable "lambda_websocket" {
  description = "Also create the SMTP-over-WebSocket API and its function (virtual connections, part 2 of the Lambda issue: not built yet, so the bootstrap cannot serve it). Needs lambda_zip."
  type        = bool
  default     = false
}

variable "manage_apigateway_account_role" {
  description = "Set the region's API Gateway CloudWatch Logs role (account-wide) for the WebSocket access logs; leave false when the account already has one."
  type        = bool
  default     = false
}

# ---- alarms and DNS -------------------------------------------------------------------------

variable "alarm_emails" {
  description = "Addresses subscribed to the alarm topic."
  type        = list(string)
  default     = []
}

variable "outbox_age_alarm_seconds" {
  description = "Alarm when the oldest undelivered event of any sink is older than this."
  type        = number
  default     = 600
}

variable "reply_4xx_alarm_ratio" {
  description = "Alarm when this share of SMTP replies is 4xx (5 minutes)."
  type        = number
  default     = 0.2
}

variable "reply_5xx_alarm_ratio" {
  description = "Alarm when this share of SMTP replies is 5xx (5 minutes)."
  type        = number
  default     = 0.3
}

variable "route53_zone_id" {
  description = "Hosted zone for the MX records and the MX host's A records (empty: no DNS records)."
  type        = string
  default     = ""
}

variable "mx_domains" {
  description = "Domains in route53_zone_id that get an MX record pointing at hostname."
  type        = list(string)
  default     = []
}
