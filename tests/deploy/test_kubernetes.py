"""deploy/k8s (issue 14): every overlay (and the base) renders offline with `kubectl
kustomize`, and the rendered objects keep what the issue asks: a workload (Deployment, or
StatefulSet with a volume for the spool where ack_after = "spool") running non-root with a
read-only root filesystem and no capabilities, readiness on /readyz and liveness on /healthz
of the HTTP port, a preStop pause and a grace period longer than it plus the drain; a
LoadBalancer Service annotated for an AWS NLB with PROXY protocol v2 and /readyz health
checks (except in dev), a ConfigMap whose mxgate.toml the test binary accepts and whose
PROXY/ack_after settings suit the overlay, a Secret given as environment, a PDB and an HPA
that select/target the workload, a NetworkPolicy that keeps the HTTP port off the internet,
and Prometheus scrape annotations.
"""
import glob
import os
import re
import shutil
import subprocess
import tempfile
import unittest

try:
    import yaml
except ImportError:  # pragma: no cover
    yaml = None

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
K8S = os.path.join(ROOT, "deploy", "k8s")
BIN = os.environ.get("MXGATE_TEST_BIN", os.path.join(ROOT, "build", "src", "app", "mxgate"))
OVERLAYS = sorted(os.path.basename(p) for p in glob.glob(os.path.join(K8S, "overlays", "*")))


def seconds(text):
    n, unit = re.fullmatch(r"(\d+)(ms|s|m)", text).groups()
    return int(n) * {"ms": 0.001, "s": 1, "m": 60}[unit]


@unittest.skipUnless(shutil.which("kubectl"), "kubectl is not installed (it is in the image at /usr/bin/kubectl; "
                                              "Debian 12 has no package for it)")
@unittest.skipUnless(yaml is not None, "PyYAML is not importable from this python3")
class KustomizeTest(unittest.TestCase):
    rendered = {}

    @classmethod
    def setUpClass(cls):
        for name in ["base"] + ["overlays/" + o for o in OVERLAYS]:
            r = subprocess.run(["kubectl", "kustomize", os.path.join(K8S, name)], capture_output=True, text=True)
            if r.returncode != 0:
                raise AssertionError("kubectl kustomize %s:\n%s" % (name, r.stderr))
            cls.rendered[name] = [d for d in yaml.safe_load_all(r.stdout) if d]

    def objects(self, name, kind):
        return [d for d in self.rendered[name] if d["kind"] == kind]

    def one(self, name, kind):
        objs = self.objects(name, kind)
        self.assertEqual(len(objs), 1, "%s: %d %s" % (name, len(objs), kind))
        return objs[0]

    def workload(self, name):
        objs = self.objects(name, "Deployment") + self.objects(name, "StatefulSet")
        self.assertEqual(len(objs), 1, name)
        return objs[0]

    def config(self, name):
        cm = self.one(name, "ConfigMap")
        return cm, cm["data"]["mxgate.toml"]

    def test_overlays_exist(self):
        self.assertEqual(OVERLAYS, ["aws", "aws-statefulset", "dev"])

    def test_every_rendering(self):
        for name in self.rendered:
            with self.subTest(name):
                self.check_workload(name)
                self.check_service(name)
                self.check_config(name)
                self.check_pdb_hpa(name)
                self.check_network_policy(name)

    def check_workload(self, name):
        w = self.workload(name)
        pod = w["spec"]["template"]
        spec = pod["spec"]
        ann = pod["metadata"].get("annotations", {})
        self.assertEqual(ann.get("prometheus.io/scrape"), "true")
        self.assertEqual(ann.get("prometheus.io/port"), "8025")
        self.assertEqual(ann.get("prometheus.io/path"), "/metrics")
        sc = spec["securityContext"]
        self.assertIs(sc["runAsNonRoot"], True)
        self.assertGreater(sc["runAsUser"], 0)
        (c,) = [c for c in spec["containers"] if c["name"] == "mxgate"]
        csc = c["securityContext"]
        self.assertIs(csc["readOnlyRootFilesystem"], True)
        self.assertIs(csc["allowPrivilegeEscalation"], False)
        self.assertEqual(csc["capabilities"]["drop"], ["ALL"])
        ports = {p["name"]: p["containerPort"] for p in c["ports"]}
        self.assertEqual(c["readinessProbe"]["httpGet"], {"path": "/readyz", "port": "http"})
        self.assertEqual(c["livenessProbe"]["httpGet"], {"path": "/healthz", "port": "http"})
        self.assertEqual(ports["http"], 8025)
        # The grace period covers the preStop pause, the shutdown delay and the drain.
        pre = c["lifecycle"]["preStop"]["exec"]["command"]
        self.assertEqual(pre[0], "sleep")
        _, toml = self.config(name)
        drain = seconds(re.search(r'drain_timeout = "([^"]+)"', toml).group(1))
        delay = seconds(re.search(r'shutdown_delay = "([^"]+)"', toml).group(1))
        self.assertGreater(spec["terminationGracePeriodSeconds"], int(pre[1]) + delay + drain)
        # Secrets arrive as MXGATE_* variables; the config is the ConfigMap.
        self.assertIn({"secretRef": {"name": "mxgate-secrets"}}, c["envFrom"])
        self.assertEqual(len(self.objects(name, "Secret")), 1)
        cm, _ = self.config(name)
        vols = {v["name"]: v for v in spec.get("volumes", [])}
        self.assertEqual(vols["config"]["configMap"]["name"], cm["metadata"]["name"])
        mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
        self.assertEqual(mounts["/etc/mxgate"], "config")
        state = mounts["/var/lib/mxgate"]
        if w["kind"] == "StatefulSet":
            self.assertIn(state, [t["metadata"]["name"] for t in w["spec"]["volumeClaimTemplates"]])
        else:
            self.assertIn("emptyDir", vols[state])

    def check_service(self, name):
        svcs = [s for s in self.objects(name, "Service") if s["spec"].get("clusterIP") != "None"]
        self.assertEqual(len(svcs), 1, name)
        svc = svcs[0]
        w = self.workload(name)
        labels = w["spec"]["template"]["metadata"]["labels"]
        for k, v in svc["spec"]["selector"].items():
            self.assertEqual(labels.get(k), v, "the Service does not select the pods")
        ports = {p["port"]: p["targetPort"] for p in svc["spec"]["ports"]}
        self.assertEqual(ports, {25: "smtp", 587: "submission", 465: "smtps"})
        if name == "overlays/dev":
            self.assertEqual(svc["spec"]["type"], "ClusterIP")
            return
        self.assertEqual(svc["spec"]["type"], "LoadBalancer")
        a = svc["metadata"]["annotations"]
        p = "service.beta.kubernetes.io/aws-load-balancer-"
        self.assertEqual(a[p + "proxy-protocol"], "*")
        self.assertEqual(a[p + "nlb-target-type"], "ip")
        self.assertEqual(a[p + "healthcheck-path"], "/readyz")
        self.assertEqual(a[p + "healthcheck-port"], "8025")
        self.assertIn("load_balancing.cross_zone.enabled=true", a[p + "attributes"])
        if name.startswith("overlays/aws"):
            self.assertEqual(a[p + "ssl-ports"], "smtps")
            self.assertTrue(a[p + "ssl-negotiation-policy"].startswith("ELBSecurityPolicy-TLS13-"))
            self.assertEqual(len(a[p + "eip-allocations"].split(",")), 3)

    def check_config(self, name):
        _, toml = self.config(name)
        with tempfile.NamedTemporaryFile("w", suffix=".toml") as f:
            f.write(toml)
            f.flush()
            env = {k: v for k, v in os.environ.items() if not k.startswith("MXGATE_") or k == "MXGATE_TEST_BIN"}
            r = subprocess.run([BIN, "check-config", "-c", f.name], capture_output=True, text=True, env=env)
        self.assertEqual(r.returncode, 0, name + ": " + r.stdout + r.stderr)
        proxied = name != "overlays/dev"
        self.assertEqual("proxy_protocol = true" in toml, proxied, name)
        self.assertEqual("tls_at_proxy = true" in toml, proxied, name)
        if name == "overlays/aws":
            self.assertIn('ack_after = "store"', toml)  # emptyDir spool
        if name == "overlays/aws-statefulset":
            self.assertIn('ack_after = "spool"', toml)  # the spool is on a volume

    def check_pdb_hpa(self, name):
        w = self.workload(name)
        labels = w["spec"]["template"]["metadata"]["labels"]
        pdb = self.one(name, "PodDisruptionBudget")
        for k, v in pdb["spec"]["selector"]["matchLabels"].items():
            self.assertEqual(labels.get(k), v)
        hpa = self.one(name, "HorizontalPodAutoscaler")
        ref = hpa["spec"]["scaleTargetRef"]
        self.assertEqual((ref["kind"], ref["name"]), (w["kind"], w["metadata"]["name"]))
        kinds = [m["type"] for m in hpa["spec"]["metrics"]]
        self.assertIn("Resource", kinds)
        if name.startswith("overlays/aws"):
            self.assertIn("mxgate_connections_active", str(hpa["spec"]["metrics"]))

    def check_network_policy(self, name):
        np = self.one(name, "NetworkPolicy")
        labels = self.workload(name)["spec"]["template"]["metadata"]["labels"]
        for k, v in np["spec"]["podSelector"]["matchLabels"].items():
            self.assertEqual(labels.get(k), v)
        http_rules = [r for r in np["spec"]["ingress"] if {"port": "http"} in r.get("ports", [])]
        self.assertTrue(http_rules)
        for r in http_rules:
            self.assertIn("from", r, "the HTTP port is open to everyone")
            for peer in r["from"]:
                self.assertNotEqual(peer.get("ipBlock", {}).get("cidr"), "0.0.0.0/0")


if __name__ == "__main__":
    unittest.main(verbosity=2)
