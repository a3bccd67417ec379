# The Network Load Balancer: one Elastic IP per Availability Zone (static addresses for the
# MX host's A records), cross-zone load balancing, TCP 25 and 587, TLS 465 (ACM, TLS 1.3/1.2
# policy), each to a target group with PROXY protocol v2 whose health check is the nodes'
# HTTP /readyz.

resource "aws_eip" "nlb" {
  count  = length(var.public_subnet_ids)
  domain = "vpc"
  tags   = merge(local.tags, { Name = "${var.name}-nlb-${count.index}" })
}

resource "aws_lb" "this" {
  name                             = "${var.name}-nlb"
  load_balancer_type               = "network"
  internal                         = false
  enable_cross_zone_load_balancing = true
  enable_deletion_protection       = true
  security_groups                  = [aws_security_group.nlb.id]

  dynamic "subnet_mapping" {
    for_each = var.public_subnet_ids
    content {
      subnet_id     = subnet_mapping.value
      allocation_id = aws_eip.nlb[subnet_mapping.key].id
    }
  }

  access_logs {
    bucket  = aws_s3_bucket.logs.bucket
    prefix  = "nlb"
    enabled = true
  }

  tags = local.tags
}

resource "aws_lb_target_group" "smtp" {
  for_each             = local.listeners
  name                 = "${var.name}-${each.key}"
  port                 = each.value.container_port
  protocol             = "TCP"
  target_type          = "ip"
  vpc_id               = var.vpc_id
  proxy_protocol_v2    = true
  deregistration_delay = local.deregistration_delay
  # Sessions that outlive the delay are drained by mxgate (421), not cut by the NLB.
  connection_termination = false
  preserve_client_ip     = false

  health_check {
    protocol            = "HTTP"
    port                = tostring(local.http_port)
    path                = "/readyz"
    matcher             = "200"
    interval            = var.health_check_interval_seconds
    healthy_threshold   = 2
    unhealthy_threshold = var.health_check_unhealthy_threshold
    timeout             = 5
  }

  tags = local.tags
}

resource "aws_lb_listener" "smtp" {
  for_each          = local.listeners
  load_balancer_arn = aws_lb.this.arn
  port              = each.value.port
  protocol          = each.value.protocol
  certificate_arn   = each.value.protocol == "TLS" ? var.certificate_arn : null
  ssl_policy        = each.value.protocol == "TLS" ? var.tls_policy : null
  alpn_policy       = each.value.protocol == "TLS" ? "None" : null

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.smtp[each.key].arn
  }

  tags = local.tags
}
