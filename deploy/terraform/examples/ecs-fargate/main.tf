# Example root: a VPC (two AZs, public subnets for the NLB, private subnets with one NAT
# gateway and an S3 gateway endpoint for the nodes) and mxgate on ECS Fargate behind an NLB.
#   terraform init && terraform apply -var hostname=mx.example.com -var 'mail_domains=["example.com"]' \
#     -var certificate_arn=arn:aws:acm:... -var container_image=<registry>/mxgate:0.1.0

terraform {
  required_version = ">= 1.5"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.60, < 6.0"
    }
  }
}

provider "aws" {
  region = var.region
  default_tags {
    tags = { project = "mxgate", environment = var.environment }
  }
}

data "aws_availability_zones" "available" {
  state = "available"
}

locals {
  azs = slice(data.aws_availability_zones.available.names, 0, 2)
}

resource "aws_vpc" "this" {
  cidr_block           = var.vpc_cidr
  enable_dns_support   = true
  enable_dns_hostnames = true
  tags                 = { Name = "mxgate-${var.environment}" }
}

resource "aws_internet_gateway" "this" {
  vpc_id = aws_vpc.this.id
}

resource "aws_subnet" "public" {
  count             = length(local.azs)
  vpc_id            = aws_vpc.this.id
  availability_zone = local.azs[count.index]
  cidr_block        = cidrsubnet(var.vpc_cidr, 4, count.index)
  tags              = { Name = "mxgate-public-${local.azs[count.index]}" }
}

resource "aws_subnet" "private" {
  count             = length(local.azs)
  vpc_id            = aws_vpc.this.id
  availability_zone = local.azs[count.index]
  cidr_block        = cidrsubnet(var.vpc_cidr, 4, count.index + 8)
  tags              = { Name = "mxgate-private-${local.azs[count.index]}" }
}

resource "aws_route_table" "public" {
  vpc_id = aws_vpc.this.id
  route {
    cidr_block = "0.0.0.0/0"
    gateway_id = aws_internet_gateway.this.id
  }
}

resource "aws_route_table_association" "public" {
  count          = length(local.azs)
  subnet_id      = aws_subnet.public[count.index].id
  route_table_id = aws_route_table.public.id
}

resource "aws_eip" "nat" {
  domain = "vpc"
}

resource "aws_nat_gateway" "this" {
  allocation_id = aws_eip.nat.id
  subnet_id     = aws_subnet.public[0].id
  depends_on    = [aws_internet_gateway.this]
}

resource "aws_route_table" "private" {
  vpc_id = aws_vpc.this.id
  route {
    cidr_block     = "0.0.0.0/0"
    nat_gateway_id = aws_nat_gateway.this.id
  }
}

resource "aws_route_table_association" "private" {
  count          = length(local.azs)
  subnet_id      = aws_subnet.private[count.index].id
  route_table_id = aws_route_table.private.id
}

# S3 traffic (every stored message) stays off the NAT gateway.
resource "aws_vpc_endpoint" "s3" {
  vpc_id            = aws_vpc.this.id
  service_name      = "com.amazonaws.${var.region}.s3"
  vpc_endpoint_type = "Gateway"
  route_table_ids   = [aws_route_table.private.id]
}

module "mxgate" {
  source = "../../modules/mxgate"

  name               = "mxgate-${var.environment}"
  vpc_id             = aws_vpc.this.id
  vpc_cidr           = aws_vpc.this.cidr_block
  public_subnet_ids  = aws_subnet.public[*].id
  private_subnet_ids = aws_subnet.private[*].id

  certificate_arn = var.certificate_arn
  container_image = var.container_image
  hostname        = var.hostname
  mail_domains    = var.mail_domains

  lambda_zip   = var.lambda_zip
  enable_msk   = var.enable_msk
  enable_redis = var.enable_redis
  alarm_emails = var.alarm_emails

  route53_zone_id = var.route53_zone_id
  mx_domains      = var.route53_zone_id != "" ? var.mail_domains : []

  extra_environment = {
    MXGATE_LIMITS_MAX_MESSAGE_SIZE = "25MiB"
  }
}
