# Optional ElastiCache Redis for rate-limit counters shared by every node
# (rate_limits.backend = "redis"). mxgate's Redis client (hiredis 0.14) speaks plain TCP, so
# transit encryption is off: the group is reachable from the nodes' security group only.

resource "aws_elasticache_subnet_group" "rate_limits" {
  count      = var.enable_redis ? 1 : 0
  name       = "${var.name}-rate-limits"
  subnet_ids = var.private_subnet_ids
  tags       = local.tags
}

resource "aws_elasticache_replication_group" "rate_limits" {
  count                      = var.enable_redis ? 1 : 0
  replication_group_id       = "${var.name}-rate-limits"
  description                = "mxgate rate-limit counters"
  engine                     = "redis"
  engine_version             = "7.1"
  node_type                  = var.redis_node_type
  num_cache_clusters         = 2
  automatic_failover_enabled = true
  multi_az_enabled           = true
  port                       = 6379
  subnet_group_name          = aws_elasticache_subnet_group.rate_limits[0].name
  security_group_ids         = [aws_security_group.backends.id]
  at_rest_encryption_enabled = true
  transit_encryption_enabled = false # hiredis 0.14 has no TLS (PLATFORM.md)
  snapshot_retention_limit   = 0     # counters only: nothing to restore
  apply_immediately          = false
  tags                       = local.tags
}
