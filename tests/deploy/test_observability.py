"""deploy/observability (issue 14): every metric the Grafana dashboard and the Prometheus
alert rules name is one mxgate exports. A real node is started on the embedded defaults
(free loopback ports, a temporary directory) and /metrics is scraped; a name that appears
there only after an event or with an optional backend (a rate limit, the S3 store) must be
declared by one of the exporters' tables — a "mxgate_..." literal in src/ (server/metrics.h,
pipeline/metrics.cc, events/outbox/outbox_metrics.h, store/s3/s3_metrics.h, the rate limiter).
The same check covers the CloudWatch metrics the Terraform module's agent exports.
"""
import glob
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
OBS = os.path.join(ROOT, "deploy", "observability")
BIN = os.environ.get("MXGATE_TEST_BIN", os.path.join(ROOT, "build", "src", "app", "mxgate"))
NAME = re.compile(r"\bmxgate_[a-z0-9_]+\b")
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")


sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from harness import free_port  # noqa: E402 — each port handed out once (two listeners on one port are refused)


def scrape_embedded_defaults():
    """{name: type} from the # TYPE lines of a node on the embedded defaults."""
    d = tempfile.mkdtemp(prefix="mxgate-obs-")
    http = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MXGATE_")}
    env.update({"MXGATE_LISTENER_SMTP_LISTEN": "127.0.0.1:%d" % free_port(),
                "MXGATE_LISTENER_SUBMISSION_LISTEN": "127.0.0.1:%d" % free_port(),
                "MXGATE_LISTENER_SMTPS_LISTEN": "127.0.0.1:%d" % free_port(),
                "MXGATE_HTTP_LISTEN": "127.0.0.1:%d" % http})
    with open(os.path.join(d, "stderr"), "wb") as err:
        proc = subprocess.Popen([BIN, "serve"], cwd=d, env=env, stdout=err, stderr=err)
    try:
        deadline = time.time() + 20
        while True:
            try:
                with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % http, timeout=1) as r:
                    text = r.read().decode()
                break
            except OSError:
                if proc.poll() is not None or time.time() > deadline:
                    with open(os.path.join(d, "stderr")) as f:
                        raise AssertionError("mxgate did not serve /metrics:\n" + f.read())
                time.sleep(0.05)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        subprocess.run(["rm", "-rf", d])
    return dict(re.findall(r"^# TYPE (\S+) (\S+)$", text, re.M))


def declared_in_source():
    names = set()
    for path in glob.glob(os.path.join(ROOT, "src", "**", "*.*"), recursive=True):
        if path.endswith((".h", ".cc")):
            with open(path, errors="replace") as f:
                names |= set(re.findall(r'"(mxgate_[a-z0-9_]+)"', f.read()))
    return names


def referenced():
    """{name: [where]} of every mxgate_* name in the dashboard's queries and the rules."""
    out = {}
    with open(os.path.join(OBS, "grafana", "mxgate.json")) as f:
        dash = json.load(f)
    exprs = [("grafana:" + p["title"], t["expr"]) for p in dash["panels"] for t in p.get("targets", [])]
    exprs += [("grafana:variable " + v["name"], v.get("query", "")) for v in dash["templating"]["list"]]
    import yaml
    with open(os.path.join(OBS, "prometheus", "mxgate-alerts.yaml")) as f:
        rules = yaml.safe_load(f)
    exprs += [("alert:" + r["alert"], r["expr"]) for g in rules["groups"] for r in g["rules"]]
    with open(os.path.join(ROOT, "deploy", "terraform", "modules", "mxgate", "ecs.tf")) as f:
        exprs.append(("terraform:ecs.tf", f.read()))
    with open(os.path.join(ROOT, "deploy", "terraform", "modules", "mxgate", "monitoring.tf")) as f:
        text = f.read()
    # "mxgate_smtp_replies_${c}_total" over the reply classes: each expansion is checked.
    exprs += [("terraform:monitoring.tf", text.replace("${c}", c)) for c in ("2xx", "3xx", "4xx", "5xx")]
    for where, expr in exprs:
        for m in re.finditer(r"\bmxgate_[a-z0-9_]*\$\{(\w+)\}", expr):
            if m.group(1) != "c":
                raise AssertionError("%s: a metric name built from ${%s}: expand it in the test" % (where, m.group(1)))
    for where, expr in exprs:
        for name in NAME.findall(expr):
            out.setdefault(name, []).append(where)
    return out


class ObservabilityTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.scraped = scrape_embedded_defaults()
        cls.declared = declared_in_source()
        try:
            cls.refs = referenced()
        except ImportError:
            raise unittest.SkipTest("PyYAML is not importable from this python3")

    def exported_base(self, name):
        """The family a sample name belongs to (histograms export _bucket/_sum/_count)."""
        if name in self.scraped or name in self.declared:
            return name
        for suffix in HISTOGRAM_SUFFIXES:
            base = name[: -len(suffix)]
            if name.endswith(suffix) and (self.scraped.get(base) == "histogram" or base in self.declared):
                return base
        return None

    def test_the_scan_of_the_source_sees_what_is_exported(self):
        # The declared set is only trusted if it holds every family a live node exports.
        self.assertGreater(len(self.scraped), 40)
        missing = sorted(set(self.scraped) - self.declared)
        self.assertEqual(missing, [], "exported but not found as literals in src/ (is the scan broken?)")

    def test_every_referenced_metric_is_exported(self):
        self.assertGreater(len(self.refs), 20)
        unknown = {n: w for n, w in self.refs.items() if self.exported_base(n) is None}
        self.assertEqual(unknown, {}, "metrics named by dashboards/alerts that mxgate does not export")

    def test_the_issue_list_is_covered(self):
        names = set(self.exported_base(n) for n in self.refs)
        for family in ("mxgate_messages_accepted_total", "mxgate_smtp_replies_4xx_total", "mxgate_spool_depth",
                       "mxgate_spool_oldest_record_age_seconds", "mxgate_outbox_depth",
                       "mxgate_outbox_oldest_event_age_seconds", "mxgate_outbox_dead_letters",
                       "mxgate_tls_handshake_failures_total", "mxgate_rate_limit_refusals_total"):
            self.assertIn(family, names)
        # Per-sink outbox families appear with the embedded defaults' one sink ("file").
        self.assertEqual(self.scraped.get("mxgate_outbox_oldest_event_age_seconds"), "gauge")

    def test_dashboard_and_rules_are_well_formed(self):
        with open(os.path.join(OBS, "grafana", "mxgate.json")) as f:
            dash = json.load(f)
        self.assertEqual(dash["uid"], "mxgate-overview")
        ids = set()
        for p in dash["panels"]:
            if p["type"] == "row":
                continue
            self.assertEqual(p["datasource"]["uid"], "${datasource}", p["title"])
            self.assertTrue(p["targets"], p["title"])
            key = (p["gridPos"]["x"], p["gridPos"]["y"])
            self.assertNotIn(key, ids, "two panels at %s" % (key,))
            ids.add(key)
        import yaml
        with open(os.path.join(OBS, "prometheus", "mxgate-alerts.yaml")) as f:
            rules = yaml.safe_load(f)
        with open(os.path.join(ROOT, "docs", "operations.md")) as f:
            ops = f.read()
        anchors = set(re.findall(r'<a id="([a-z0-9-]+)"></a>', ops))
        for r in rules["groups"][0]["rules"]:
            self.assertIn(r["labels"]["severity"], ("info", "warning", "critical"))
            anchor = r["annotations"]["runbook_url"].split("#")[1]
            self.assertIn(anchor, anchors, "docs/operations.md has no section for " + r["alert"])
        # The CloudWatch alarms' descriptions point into the same document.
        with open(os.path.join(ROOT, "deploy", "terraform", "modules", "mxgate", "monitoring.tf")) as f:
            tf_anchors = set(re.findall(r"docs/operations\.md#([a-z0-9-]+)", f.read()))
        self.assertGreater(len(tf_anchors), 5)
        self.assertEqual(tf_anchors - anchors, set())


if __name__ == "__main__":
    unittest.main(verbosity=2)
