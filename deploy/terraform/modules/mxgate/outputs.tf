output "nlb_dns_name" {
  description = "The NLB's DNS name."
  value       = aws_lb.this.dns_name
}

output "mx_addresses" {
  description = "The NLB's static addresses (one per AZ): the MX host's A records."
  value       = aws_eip.nlb[*].public_ip
}

output "bucket" {
  description = "The mail bucket."
  value       = aws_s3_bucket.mail.bucket
}

output "events_queue_url" {
  description = "The SQS queue the nodes publish events to."
  value       = aws_sqs_queue.events.url
}

output "events_dlq_url" {
  description = "Its dead-letter queue."
  value       = aws_sqs_queue.events_dlq.url
}

output "websocket_url" {
  description = "The WebSocket API's URL (empty without the Lambda artefact)."
  value       = local.websocket_on ? aws_apigatewayv2_stage.websocket[0].invoke_url : ""
}

output "kafka_bootstrap_brokers" {
  description = "MSK Serverless bootstrap brokers (SASL/IAM), empty when disabled."
  value       = var.enable_msk ? aws_msk_serverless_cluster.events[0].bootstrap_brokers_sasl_iam : ""
}

output "dashboard_name" {
  description = "The CloudWatch dashboard."
  value       = aws_cloudwatch_dashboard.this.dashboard_name
}

output "alarm_topic_arn" {
  description = "SNS topic every alarm notifies."
  value       = aws_sns_topic.alarms.arn
}

output "node_security_group_id" {
  description = "The nodes' security group (allow Prometheus from your monitoring network here)."
  value       = aws_security_group.nodes.id
}
