variable "region" {
  description = "AWS region."
  type        = string
  default     = "eu-west-1"
}

variable "environment" {
  description = "Suffix of the resource names (prod, staging)."
  type        = string
  default     = "prod"
}

variable "vpc_cidr" {
  description = "The example VPC's CIDR."
  type        = string
  default     = "10.40.0.0/16"
}

variable "hostname" {
  description = "The MX hostname (covered by the ACM certificate)."
  type        = string
}

variable "mail_domains" {
  description = "Domains to receive mail for."
  type        = list(string)
}

variable "certificate_arn" {
  description = "ACM certificate for hostname (the 465 listener)."
  type        = string
}

variable "container_image" {
  description = "The mxgate image in your registry (deploy/docker/Dockerfile)."
  type        = string
}

variable "lambda_zip" {
  description = "The Lambda artefact (bootstrap zip); empty: no Lambda pipeline, no WebSocket API."
  type        = string
  default     = ""
}

variable "enable_msk" {
  description = "Also publish events to MSK Serverless."
  type        = bool
  default     = false
}

variable "enable_redis" {
  description = "Shared rate-limit counters in ElastiCache Redis."
  type        = bool
  default     = false
}

variable "alarm_emails" {
  description = "Who gets the alarms."
  type        = list(string)
  default     = []
}

variable "route53_zone_id" {
  description = "Hosted zone of the mail domains (empty: manage DNS yourself)."
  type        = string
  default     = ""
}
