"""deploy/terraform (issue 14), checked without providers or an AWS account: `terraform fmt
-check -recursive`, then policy tests on the HCL as Terraform's parser reads it (npm
@cdktf/hcl2json, pinned in tests/deploy/hcl/package-lock.json, installed with `npm ci`):
every SMTP port has its NLB listener and a target group with PROXY protocol v2 and a
/readyz health check on the HTTP port, cross-zone is on, one Elastic IP per subnet, the TLS
listener uses a TLS 1.3 policy and the ACM certificate, deregistration matches the drain,
flow logs exist, no security group opens the health port to the internet, no IAM policy
allows "*" actions or "*" resources (except the calls that have no resource-level
permissions), every bucket blocks public access and is encrypted, every queue has a DLQ,
every Lambda has a DLQ, X-Ray and reserved concurrency, its SQS mapping reports partial
batch failures, ack_after defaults to "store", and every MXGATE_* variable of the task
definition is a setting the test binary accepts (`mxgate check-config` with them).
"""
import glob
import json
import os
import re
import shutil
import subprocess
import unittest

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
TF = os.path.join(ROOT, "deploy", "terraform")
MODULE = os.path.join(TF, "modules", "mxgate")
HCL = os.path.join(ROOT, "tests", "deploy", "hcl")
BIN = os.environ.get("MXGATE_TEST_BIN", os.path.join(ROOT, "build", "src", "app", "mxgate"))

# Actions AWS defines without resource-level permissions: "*" is their only resource.
STAR_RESOURCE_OK = {"xray:PutTraceSegments", "xray:PutTelemetryRecords", "ecr:GetAuthorizationToken"}


def npm_ci():
    """npm ci, skipped when node_modules already holds exactly the lockfile's packages."""
    lock = os.path.join(HCL, "package-lock.json")
    installed = os.path.join(HCL, "node_modules", ".package-lock.json")
    if os.path.exists(installed):
        with open(lock) as a, open(installed) as b:
            want = {k: v.get("version") for k, v in json.load(a)["packages"].items() if k}
            have = {k: v.get("version") for k, v in json.load(b)["packages"].items() if k}
        if want == have:
            return
    r = subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=HCL, capture_output=True, text=True)
    if r.returncode != 0:
        raise unittest.SkipTest("npm ci failed (no npm registry?): " + r.stderr[-500:])


def parse_module(directory):
    files = sorted(glob.glob(os.path.join(directory, "*.tf")))
    r = subprocess.run(["node", os.path.join(HCL, "hcl2json.mjs")] + files, cwd=HCL, capture_output=True, text=True)
    if r.returncode != 0:
        raise AssertionError("hcl2json: " + r.stderr)
    merged = {"resource": {}, "data": {}, "variable": {}, "locals": {}, "module": {}}
    for parsed in json.loads(r.stdout).values():
        for kind in ("resource", "data"):
            for rtype, named in parsed.get(kind, {}).items():
                for name, blocks in named.items():
                    merged[kind].setdefault(rtype, {})[name] = blocks[0]
        for name, blocks in parsed.get("variable", {}).items():
            merged["variable"][name] = blocks[0]
        for name, blocks in parsed.get("module", {}).items():
            merged["module"][name] = blocks[0]
        for block in parsed.get("locals", []):
            merged["locals"].update(block)
    return merged


def blocks(value):
    """A nested block as a list of its occurrences."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


@unittest.skipUnless(shutil.which("node") and shutil.which("npm"), "node and npm are needed (in the image: node 20)")
class TerraformTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        npm_ci()
        cls.m = parse_module(MODULE)
        cls.res = cls.m["resource"]
        cls.local = cls.m["locals"]

    def resource(self, rtype, name=None):
        self.assertIn(rtype, self.res, rtype + " is missing")
        if name is None:
            return self.res[rtype]
        self.assertIn(name, self.res[rtype], "%s.%s is missing" % (rtype, name))
        return self.res[rtype][name]

    def resolve(self, value, each=None):
        """A number from a literal, ${local.x}, ${tostring(local.x)} or ${each.value.k}."""
        if isinstance(value, (int, float)):
            return value
        m = re.fullmatch(r"\$\{(?:tostring\()?local\.(\w+)\)?\}", value)
        if m:
            return self.local[m.group(1)]
        m = re.fullmatch(r"\$\{each\.value\.(\w+)\}", value)
        if m and each is not None:
            return each[m.group(1)]
        return value

    @unittest.skipUnless(shutil.which("terraform"), "terraform is not installed")
    def test_fmt(self):
        r = subprocess.run(["terraform", "fmt", "-check", "-recursive", TF], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, "terraform fmt would change:\n" + r.stdout)

    def test_every_port_has_listener_and_proxy_v2_target_group(self):
        listeners = self.local["listeners"]
        self.assertEqual(sorted((l["port"], l["protocol"]) for l in listeners.values()),
                         [(25, "TCP"), (465, "TLS"), (587, "TCP")])
        lst = self.resource("aws_lb_listener", "smtp")
        tg = self.resource("aws_lb_target_group", "smtp")
        self.assertEqual(lst["for_each"], "${local.listeners}")
        self.assertEqual(tg["for_each"], "${local.listeners}")
        self.assertEqual(lst["port"], "${each.value.port}")
        self.assertEqual(lst["protocol"], "${each.value.protocol}")
        self.assertIn("aws_lb_target_group.smtp[each.key].arn", json.dumps(lst["default_action"]))
        for name, tg in self.resource("aws_lb_target_group").items():
            self.assertIs(tg.get("proxy_protocol_v2"), True, name)
            hc = blocks(tg["health_check"])[0]
            self.assertEqual(hc["protocol"], "HTTP")
            self.assertEqual(hc["path"], "/readyz")
            self.assertEqual(self.resolve(hc["port"]), self.local["http_port"])
            self.assertEqual(tg["deregistration_delay"], "${local.deregistration_delay}")
        self.assertEqual(self.local["deregistration_delay"], "${var.drain_timeout_seconds}")
        # The service registers every target group.
        svc = self.resource("aws_ecs_service", "nodes")
        dyn = blocks(svc["dynamic"])[0]["load_balancer"][0]
        self.assertEqual(dyn["for_each"], "${local.listeners}")

    def test_nlb_cross_zone_and_one_eip_per_subnet(self):
        lb = self.resource("aws_lb", "this")
        self.assertEqual(lb["load_balancer_type"], "network")
        self.assertIs(lb["enable_cross_zone_load_balancing"], True)
        eip = self.resource("aws_eip", "nlb")
        self.assertEqual(eip["count"], "${length(var.public_subnet_ids)}")
        mapping = blocks(lb["dynamic"])[0]["subnet_mapping"][0]
        self.assertEqual(mapping["for_each"], "${var.public_subnet_ids}")
        self.assertIn("aws_eip.nlb[subnet_mapping.key].id", mapping["content"][0]["allocation_id"])

    def test_tls_listener_is_modern(self):
        lst = self.resource("aws_lb_listener", "smtp")
        self.assertIn("var.tls_policy", lst["ssl_policy"])
        self.assertIn("var.certificate_arn", lst["certificate_arn"])
        default = self.m["variable"]["tls_policy"]["default"]
        self.assertRegex(default, r"^ELBSecurityPolicy-TLS13-1-[23]-")
        self.assertIn("ELBSecurityPolicy-TLS13-", json.dumps(self.m["variable"]["tls_policy"]["validation"]))

    def test_flow_logs(self):
        fl = self.resource("aws_flow_log", "vpc")
        self.assertEqual(fl["traffic_type"], "ALL")
        self.assertEqual(fl["vpc_id"], "${var.vpc_id}")

    def test_health_port_is_not_open_to_the_internet(self):
        http = self.local["http_port"]
        checked = 0
        for kind in ("aws_vpc_security_group_ingress_rule", "aws_security_group_rule"):
            for name, rule in self.res.get(kind, {}).items():
                if kind == "aws_security_group_rule" and rule.get("type") != "ingress":
                    continue
                eaches = [None]
                if "for_each" in rule:
                    fe = re.fullmatch(r"\$\{local\.(\w+)\}", rule["for_each"])
                    self.assertIsNotNone(fe, "%s.%s: for_each over something this test cannot resolve" % (kind, name))
                    eaches = list(self.local[fe.group(1)].values())
                for each in eaches:
                    lo, hi = self.resolve(rule["from_port"], each), self.resolve(rule["to_port"], each)
                    self.assertIsInstance(lo, int, "%s.%s from_port" % (kind, name))
                    if lo <= http <= hi:
                        checked += 1
                        cidrs = [rule.get("cidr_ipv4"), rule.get("cidr_ipv6")] + list(rule.get("cidr_blocks", []))
                        for c in cidrs:
                            self.assertNotIn(c, ("0.0.0.0/0", "::/0"), "%s.%s opens %d to the internet" % (kind, name, http))
        self.assertGreater(checked, 0, "no rule admits the health checks")
        for name, sg in self.res.get("aws_security_group", {}).items():
            self.assertNotIn("ingress", sg, "inline ingress in %s: use rule resources (checked here)" % name)

    def policy_statements(self):
        """(where, effect, actions, resources) of every IAM statement: policy documents, and
        jsonencode() policies (their statements read with a small scanner)."""
        out = []
        for name, doc in self.m["data"].get("aws_iam_policy_document", {}).items():
            stmts = blocks(doc.get("statement"))
            for dyn in blocks(doc.get("dynamic")):
                for d in blocks(dyn.get("statement")):
                    stmts += blocks(d.get("content"))
            for s in stmts:
                out.append(("data.aws_iam_policy_document." + name, s.get("effect", "Allow"),
                            blocks(s.get("actions")), blocks(s.get("resources"))))
        for rtype, named in self.res.items():
            for name, r in named.items():
                for key in ("policy", "assume_role_policy"):
                    text = r.get(key)
                    if not isinstance(text, str) or "jsonencode" not in text:
                        continue
                    for m in re.finditer(r'Effect\s*=\s*"(Allow|Deny)"', text):
                        start = text.rfind("{", 0, m.start())
                        depth, end = 0, start
                        for i in range(start, len(text)):
                            depth += {"{": 1, "}": -1}.get(text[i], 0)
                            if depth == 0:
                                end = i
                                break
                        stmt = text[start:end]
                        acts = re.search(r'Action\s*=\s*(\[[^\]]*\]|"[^"]*")', stmt)
                        ress = re.search(r'Resource\s*=\s*(\[[^\]]*\]|"[^"]*"|[\w.\[\]]+)', stmt)
                        out.append(("%s.%s.%s" % (rtype, name, key), m.group(1),
                                    re.findall(r'"([^"]*)"', acts.group(1)) if acts else [],
                                    re.findall(r'"([^"]*)"', ress.group(1)) or [ress.group(1)] if ress else []))
        return out

    def test_no_star_actions_on_star_resources(self):
        stmts = self.policy_statements()
        self.assertGreater(len(stmts), 20)
        for where, effect, actions, resources in stmts:
            if effect != "Allow":
                continue
            for a in actions:
                self.assertNotEqual(a, "*", where)
                self.assertFalse(a.endswith(":*"), "%s allows %s" % (where, a))
            if "*" in resources:
                self.assertTrue(set(actions) <= STAR_RESOURCE_OK, "%s: %s on *" % (where, actions))

    def test_buckets_block_public_access_and_are_encrypted(self):
        buckets = self.resource("aws_s3_bucket")
        pabs = self.resource("aws_s3_bucket_public_access_block")
        sses = self.resource("aws_s3_bucket_server_side_encryption_configuration")
        for name in buckets:
            self.assertIn(name, pabs, "bucket %s has no public access block" % name)
            pab = pabs[name]
            for k in ("block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"):
                self.assertIs(pab[k], True, "%s.%s" % (name, k))
            self.assertEqual(pab["bucket"], "${aws_s3_bucket.%s.id}" % name)
            self.assertIn(name, sses)
        self.assertIn("mail", self.resource("aws_s3_bucket_lifecycle_configuration"))

    def test_queues_have_dead_letter_queues(self):
        queues = self.resource("aws_sqs_queue")
        for name, q in queues.items():
            if name.endswith("_dlq"):
                continue
            self.assertIn("redrive_policy", q, name)
            self.assertIn("aws_sqs_queue.%s_dlq" % name, q["redrive_policy"])

    def test_lambdas_dlq_tracing_concurrency_partial_batches(self):
        fns = self.resource("aws_lambda_function")
        self.assertEqual(set(fns), {"pipeline", "websocket"})
        for name, fn in fns.items():
            self.assertIn("target_arn", blocks(fn["dead_letter_config"])[0], name)
            self.assertEqual(blocks(fn["tracing_config"])[0]["mode"], "Active", name)
            self.assertIn("reserved_concurrent_executions", fn, name)
            self.assertEqual(fn["filename"], "${var.lambda_zip}")
        esm = self.resource("aws_lambda_event_source_mapping", "ingest")
        self.assertEqual(esm["function_response_types"], ["ReportBatchItemFailures"])
        self.assertIn("aws_sqs_queue.ingest", esm["event_source_arn"])
        note = self.resource("aws_s3_bucket_notification", "mail")
        self.assertIn("aws_sqs_queue.ingest", json.dumps(note["queue"]))
        self.assertIn("aws_apigatewayv2_api", self.res)
        self.assertEqual(self.resource("aws_apigatewayv2_api", "websocket")["protocol_type"], "WEBSOCKET")
        self.assertIn("aws_dynamodb_table", self.res)

    def test_alarms_cover_what_the_issue_lists(self):
        alarms = self.resource("aws_cloudwatch_metric_alarm")
        self.assertEqual(alarms["outbox_age"]["metric_name"], "mxgate_outbox_oldest_event_age_seconds")
        self.assertEqual(alarms["dlq_depth"]["metric_name"], "ApproximateNumberOfMessagesVisible")
        self.assertEqual(alarms["lambda_errors"]["metric_name"], "Errors")
        self.assertEqual(alarms["lambda_throttles"]["metric_name"], "Throttles")
        rr = json.dumps(alarms["reply_rate"])
        self.assertIn("4xx", rr)
        self.assertIn("5xx", rr)
        self.assertIn("aws_cloudwatch_dashboard", self.res)

    def test_fargate_defaults_ack_after_store_and_autoscales_on_cpu_and_connections(self):
        self.assertEqual(self.m["variable"]["ack_after"]["default"], "store")
        self.assertIn("MXGATE_STORE_S3_ACK_AFTER", self.local["environment"])
        policies = self.resource("aws_appautoscaling_policy")
        self.assertIn("ECSServiceAverageCPUUtilization", json.dumps(policies["cpu"]))
        self.assertIn("mxgate_connections_active", json.dumps(policies["connections"]))
        td = self.resource("aws_ecs_task_definition", "node")
        self.assertEqual(td["requires_compatibilities"], ["FARGATE"])
        self.assertIn("readonlyRootFilesystem = true", td["container_definitions"])

    def test_task_environment_is_valid_mxgate_config(self):
        """Every MXGATE_* key of the task (and of the optional MSK/Redis parts) with a plausible
        value: the binary must accept them all (an unknown MXGATE_* variable is an error)."""
        text = self.local["environment"]
        env = {}
        for key, value in re.findall(r'^\s*(MXGATE_\w+)\s*=\s*(.+?)\s*(?:#.*)?$', text, re.M):
            v = value.strip('"')
            v = v.replace("${var.drain_timeout_seconds}", "30").replace("${local.http_port}", "8025")
            v = re.sub(r"\$\{local\.listeners\.(\w+)\.container_port\}",
                       lambda m: str(self.local["listeners"][m.group(1)]["container_port"]), v)
            stand_ins = {"var.vpc_cidr": "10.40.0.0/16", "var.hostname": "mx.example.com",
                         "var.store_prefix": "inbound", "var.ack_after": "store", "var.kms_key_arn": "",
                         "aws_s3_bucket.mail.bucket": "acme-mail", "data.aws_region.current.name": "eu-west-1"}
            if v in stand_ins:
                v = stand_ins[v]
            elif key.endswith("_QUEUE_URL"):
                v = "https://sqs.eu-west-1.amazonaws.com/123456789012/mxgate-events"
            elif key.endswith("_BROKERS"):
                v = "b-1.example.kafka-serverless.eu-west-1.amazonaws.com:9098"
            elif key.endswith("_REDIS_URL"):
                v = "redis://rate-limits.example:6379/0"
            elif key.endswith("_DOMAINS"):
                v = "example.com"
            elif key.endswith("_SSE"):
                v = "AES256"
            self.assertNotIn("${", v, key)
            env[key] = v
        self.assertGreater(len(env), 25)
        run_env = {k: v for k, v in os.environ.items() if not k.startswith("MXGATE_") or k == "MXGATE_TEST_BIN"}
        run_env.update(env)
        r = subprocess.run([BIN, "check-config"], capture_output=True, text=True, env=run_env)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_example_root_uses_the_module(self):
        ex = parse_module(os.path.join(TF, "examples", "ecs-fargate"))
        mod = ex["module"]["mxgate"]
        self.assertEqual(mod["source"], "../../modules/mxgate")
        required = [n for n, v in self.m["variable"].items() if "default" not in v]
        for name in required:
            self.assertIn(name, mod, "the example does not set the required input " + name)


if __name__ == "__main__":
    unittest.main(verbosity=2)
