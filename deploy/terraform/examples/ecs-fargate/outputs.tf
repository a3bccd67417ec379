output "mx_addresses" {
  description = "Point the MX host's A records here (done for you with route53_zone_id)."
  value       = module.mxgate.mx_addresses
}

output "nlb_dns_name" {
  value = module.mxgate.nlb_dns_name
}

output "dashboard" {
  value = module.mxgate.dashboard_name
}

output "events_queue_url" {
  value = module.mxgate.events_queue_url
}
