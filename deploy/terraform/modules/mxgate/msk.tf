# Optional MSK Serverless cluster with IAM authentication: the nodes' kafka sink
# (auth = "msk_iam") writes mail.{tenant}.received topics to it.

resource "aws_msk_serverless_cluster" "events" {
  count        = var.enable_msk ? 1 : 0
  cluster_name = "${var.name}-events"

  vpc_config {
    subnet_ids         = var.private_subnet_ids
    security_group_ids = [aws_security_group.backends.id]
  }

  client_authentication {
    sasl {
      iam {
        enabled = true
      }
    }
  }

  tags = local.tags
}
