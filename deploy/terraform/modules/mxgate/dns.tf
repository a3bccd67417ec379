# Optional Route 53 records: the MX host's A records (the NLB's Elastic IPs, one per AZ) and
# an MX record per domain pointing at it.

resource "aws_route53_record" "mx_host" {
  count   = var.route53_zone_id != "" ? 1 : 0
  zone_id = var.route53_zone_id
  name    = var.hostname
  type    = "A"
  ttl     = 300
  records = aws_eip.nlb[*].public_ip
}

resource "aws_route53_record" "mx" {
  for_each = var.route53_zone_id != "" ? toset(var.mx_domains) : toset([])
  zone_id  = var.route53_zone_id
  name     = each.value
  type     = "MX"
  ttl      = 3600
  records  = ["10 ${var.hostname}."]
}
