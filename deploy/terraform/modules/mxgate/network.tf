# VPC flow logs (every accepted and rejected flow, to CloudWatch Logs) and the security
# groups: the NLB takes SMTP from anywhere; the nodes take SMTP and the HTTP status port
# only from the NLB (and the status port from the VPC, for Prometheus) — never 0.0.0.0/0.

resource "aws_cloudwatch_log_group" "flow_logs" {
  name              = "/${var.name}/vpc-flow-logs"
  retention_in_days = var.flow_logs_retention_days
  kms_key_id        = local.use_kms ? var.kms_key_arn : null
  tags              = local.tags
}

resource "aws_flow_log" "vpc" {
  vpc_id                   = var.vpc_id
  traffic_type             = "ALL"
  log_destination_type     = "cloud-watch-logs"
  log_destination          = aws_cloudwatch_log_group.flow_logs.arn
  iam_role_arn             = aws_iam_role.flow_logs.arn
  max_aggregation_interval = 60
  tags                     = local.tags
}

resource "aws_security_group" "nlb" {
  name        = "${var.name}-nlb"
  description = "mxgate NLB: SMTP from the internet"
  vpc_id      = var.vpc_id
  tags        = local.tags
}

resource "aws_vpc_security_group_ingress_rule" "nlb_smtp" {
  for_each          = local.listeners
  security_group_id = aws_security_group.nlb.id
  description       = "${each.key} from anywhere"
  ip_protocol       = "tcp"
  from_port         = each.value.port
  to_port           = each.value.port
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_egress_rule" "nlb_to_nodes" {
  for_each                     = merge(local.listeners, { http = { container_port = local.http_port } })
  security_group_id            = aws_security_group.nlb.id
  description                  = "${each.key} (and health checks) to the nodes"
  ip_protocol                  = "tcp"
  from_port                    = each.value.container_port
  to_port                      = each.value.container_port
  referenced_security_group_id = aws_security_group.nodes.id
}

resource "aws_security_group" "nodes" {
  name        = "${var.name}-nodes"
  description = "mxgate nodes: SMTP and /readyz from the NLB only"
  vpc_id      = var.vpc_id
  tags        = local.tags
}

resource "aws_vpc_security_group_ingress_rule" "nodes_smtp" {
  for_each                     = local.listeners
  security_group_id            = aws_security_group.nodes.id
  description                  = "${each.key} from the NLB (PROXY v2)"
  ip_protocol                  = "tcp"
  from_port                    = each.value.container_port
  to_port                      = each.value.container_port
  referenced_security_group_id = aws_security_group.nlb.id
}

resource "aws_vpc_security_group_ingress_rule" "nodes_health_nlb" {
  security_group_id            = aws_security_group.nodes.id
  description                  = "NLB health checks on /readyz"
  ip_protocol                  = "tcp"
  from_port                    = local.http_port
  to_port                      = local.http_port
  referenced_security_group_id = aws_security_group.nlb.id
}

resource "aws_vpc_security_group_ingress_rule" "nodes_health_vpc" {
  security_group_id = aws_security_group.nodes.id
  description       = "/metrics and /readyz from inside the VPC (Prometheus, operators)"
  ip_protocol       = "tcp"
  from_port         = local.http_port
  to_port           = local.http_port
  cidr_ipv4         = var.vpc_cidr
}

resource "aws_vpc_security_group_egress_rule" "nodes_https" {
  security_group_id = aws_security_group.nodes.id
  description       = "S3, SQS, STS, CloudWatch, ECR (HTTPS)"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_egress_rule" "nodes_msk" {
  count                        = var.enable_msk ? 1 : 0
  security_group_id            = aws_security_group.nodes.id
  description                  = "MSK Serverless (SASL/IAM)"
  ip_protocol                  = "tcp"
  from_port                    = 9098
  to_port                      = 9098
  referenced_security_group_id = aws_security_group.backends.id
}

resource "aws_vpc_security_group_egress_rule" "nodes_redis" {
  count                        = var.enable_redis ? 1 : 0
  security_group_id            = aws_security_group.nodes.id
  description                  = "ElastiCache Redis"
  ip_protocol                  = "tcp"
  from_port                    = 6379
  to_port                      = 6379
  referenced_security_group_id = aws_security_group.backends.id
}

# MSK and Redis: reachable from the nodes only.
resource "aws_security_group" "backends" {
  name        = "${var.name}-backends"
  description = "mxgate backends (MSK, Redis): from the nodes only"
  vpc_id      = var.vpc_id
  tags        = local.tags
}

resource "aws_vpc_security_group_ingress_rule" "backends_msk" {
  count                        = var.enable_msk ? 1 : 0
  security_group_id            = aws_security_group.backends.id
  description                  = "MSK from the nodes"
  ip_protocol                  = "tcp"
  from_port                    = 9098
  to_port                      = 9098
  referenced_security_group_id = aws_security_group.nodes.id
}

resource "aws_vpc_security_group_ingress_rule" "backends_redis" {
  count                        = var.enable_redis ? 1 : 0
  security_group_id            = aws_security_group.backends.id
  description                  = "Redis from the nodes"
  ip_protocol                  = "tcp"
  from_port                    = 6379
  to_port                      = 6379
  referenced_security_group_id = aws_security_group.nodes.id
}
