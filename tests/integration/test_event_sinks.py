"""Event delivery end to end: the real mxgate with four sinks of four kinds, each with its own
durable outbox (events/outbox/), against real components on loopback:
  * file     the JSON-lines file (the embedded default kind);
  * hook     a Standard Webhooks receiver in this process (http.server) that checks every
             signature with its own HMAC code and can answer 500 / 400, or be down;
  * bus      Kafka: librdkafka's mock cluster (tests/events/kafka_mock_cluster, 3 brokers),
             read back with its `consume` command; brokers taken down and up;
  * jobs     SQS: moto with SigV4 signatures enforced, read back with boto3.
Tenant "acme" sends to hook and bus only; tenant "default" to every sink.

Scenarios:
  * every accepted message's event reaches every sink of its tenant: exactly the ids that
    got 250, per tenant, in each sink (file, webhook, both Kafka topics, SQS);
  * the webhook answers 500 five times for some ids, then 200: delivered, signatures valid
    on every attempt; one id gets 400: dead-lettered at once (dead-letters.jsonl names it),
    `mxgate outbox status` shows it, and `mxgate outbox replay --sink hook` (while mxgate
    runs) delivers it once the receiver is fixed;
  * isolation: the webhook is down for 20 s while 1,500 messages arrive: SMTP keeps
    answering 250, Kafka and the file receive every event meanwhile (its tenant does not
    route to SQS: moto slows to seconds per batch once its queue holds a thousand messages),
    the webhook's backlog drains after it is back;
  * Kafka's brokers all down for 12 s mid-run, then up: nothing lost;
  * kill -9 while the webhook's outbox holds events: after a restart every event arrives.
The outage lengths and message counts are scaled down for CI's time budget; the issue's full
sizes run with MXGATE_TEST_WEBHOOK_DOWN_SECONDS=60 MXGATE_TEST_ISOLATION_MESSAGES=5000
MXGATE_TEST_BROKERS_DOWN_SECONDS=30 (defaults 20, 1500, 12). bench/events measures latencies.
"""
import base64
import glob
import hashlib
import hmac
import http.server
import json
import os
import smtplib
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import Gateway, Moto, free_port, queued_id  # noqa: E402

KAFKA_MOCK = os.environ.get("MXGATE_TEST_KAFKA_MOCK", "")
# Without the Kafka sink in the build (the TSan build: librdkafka's threads, started with
# glibc's C11 thrd_create, are invisible to TSan 14 and crash its allocator), every scenario
# runs with the other sinks and the Kafka checks are left out.
KAFKA = bool(KAFKA_MOCK) and os.path.exists(KAFKA_MOCK)
SECRET_BYTES = b"mxgate-integration-webhook-key-32b!"
SECRET = "whsec_" + base64.b64encode(SECRET_BYTES).decode()
ACCOUNT = "123456789012"
WEBHOOK_DOWN_SECONDS = int(os.environ.get("MXGATE_TEST_WEBHOOK_DOWN_SECONDS", "20"))
ISOLATION_MESSAGES = int(os.environ.get("MXGATE_TEST_ISOLATION_MESSAGES", "1500"))
BROKERS_DOWN_SECONDS = int(os.environ.get("MXGATE_TEST_BROKERS_DOWN_SECONDS", "12"))


class Receiver:
    """A Standard Webhooks receiver: verifies webhook-signature, records ids per attempt."""

    def __init__(self):
        self.port = free_port()
        self.lock = threading.Lock()
        self.delivered = {}        # id -> body (the last 2xx)
        self.attempts = {}         # id -> count
        self.bad_signatures = 0
        self.fail_first = {}       # subject -> 500s before the 200 (per id)
        self.refuse = set()        # subjects answered 400
        self.server = None

    def handler(self):
        rx = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                wid = self.headers.get("webhook-id", "")
                ts = self.headers.get("webhook-timestamp", "")
                sigs = self.headers.get("webhook-signature", "").split()
                want = "v1," + base64.b64encode(hmac.new(SECRET_BYTES, ("%s.%s." % (wid, ts)).encode() + body,
                                                         hashlib.sha256).digest()).decode()
                try:
                    subject = (json.loads(body)["data"].get("summary") or {}).get("subject", "")
                except (ValueError, KeyError, AttributeError):
                    subject = ""
                with rx.lock:
                    rx.attempts[wid] = rx.attempts.get(wid, 0) + 1
                    n = rx.attempts[wid]
                    if want not in sigs or abs(time.time() - int(ts or 0)) > 300 or \
                            json.loads(body)["id"] != wid or \
                            self.headers.get("content-type", "").split(";")[0] != "application/cloudevents+json":
                        rx.bad_signatures += 1
                        code = 401
                    elif subject in rx.refuse:
                        code = 400
                    elif n <= rx.fail_first.get(subject, 0):
                        code = 500
                    else:
                        rx.delivered[wid] = body
                        code = 204
                self.send_response(code)
                self.send_header("content-length", "0")
                self.end_headers()

        return H

    def up(self):
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), self.handler())
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def down(self):
        self.server.shutdown()
        self.server.server_close()

    def ids(self):
        with self.lock:
            return set(self.delivered)


class KafkaMock:
    def __init__(self):
        self.proc = subprocess.Popen([KAFKA_MOCK], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.bootstrap = self.proc.stdout.readline().strip()

    def command(self, cmd):
        self.proc.stdin.write(cmd + "\n")
        self.proc.stdin.flush()
        lines = []
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError("kafka_mock_cluster exited")
            if line.startswith("record "):
                lines.append(line.split())
                continue
            if not line.startswith("ok"):
                raise RuntimeError("kafka_mock_cluster: %s -> %s" % (cmd, line.strip()))
            return lines

    def ids(self, topic):
        try:
            return {r[4] for r in self.command("consume " + topic)}
        except RuntimeError:
            return set()

    def stop(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=10)


class SqsReader:
    def __init__(self, moto, key_id, secret):
        import boto3
        self.sqs = boto3.client("sqs", endpoint_url=moto.endpoint, region_name=moto.region,
                                aws_access_key_id=key_id, aws_secret_access_key=secret)
        self.url = self.sqs.create_queue(QueueName="mail-events")["QueueUrl"]
        self.seen = set()

    def ids(self):
        while True:
            r = self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
            msgs = r.get("Messages", [])
            if not msgs:
                return set(self.seen)
            for m in msgs:
                self.seen.add(json.loads(m["Body"])["id"])
            self.sqs.delete_message_batch(QueueUrl=self.url, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(msgs)])


def le_count(metrics, name, sink, le):
    """The cumulative count of histogram `name`'s bucket le="<le>" for sink="<sink>"."""
    needle = '%s_bucket{sink="%s",le="%s"} ' % (name, sink, le)
    for line in metrics.splitlines():
        if line.startswith(needle):
            return float(line[len(needle):])
    raise AssertionError("no %s in /metrics" % needle)


def send_one(port, rcpt, subject):
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as s:
        s.ehlo("client.test")
        s.mail("a@example.org")
        s.rcpt(rcpt)
        code, text = s.data("From: a@example.org\r\nTo: %s\r\nSubject: %s\r\n\r\nhello\r\n" % (rcpt, subject))
        assert code == 250, (code, text)
        return queued_id(text)


def send_many(port, n, rcpt, threads=8):
    """n messages over `threads` connections; returns the ids answered 250."""
    ids, errors, lock = [], [], threading.Lock()

    def worker(count, w):
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as s:
            s.ehlo("client.test")
            for i in range(count):
                msg = "From: a@example.org\r\nTo: %s\r\nSubject: m %d %d\r\n\r\nhello %d\r\n" % (rcpt, w, i, i)
                s.mail("a@example.org")
                s.rcpt(rcpt)
                code, text = s.data(msg)
                with lock:
                    (ids if code == 250 else errors).append(queued_id(text) if code == 250 else (code, text))
    per = [n // threads + (1 if i < n % threads else 0) for i in range(threads)]
    ts = [threading.Thread(target=worker, args=(c, w)) for w, c in enumerate(per) if c]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if errors:
        raise AssertionError("not 250: %r" % errors[:3])
    return ids


class EventSinks(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.moto = Moto().start()
        cls.key_id, cls.secret = cls.moto.create_access_key()
        cls.sqs = SqsReader(cls.moto, cls.key_id, cls.secret)
        cls.kafka = KafkaMock() if KAFKA else None

    @classmethod
    def tearDownClass(cls):
        if cls.kafka:
            cls.kafka.stop()
        cls.moto.stop()

    def setUp(self):
        self.rx = Receiver()
        self.rx.up()
        self.sqs.ids()
        self.sqs.seen.clear()

    def tearDown(self):
        try:
            self.rx.down()
        except Exception:
            pass

    def gateway(self, tag):
        extra = """
[[tenant]]
name = "acme"
domains = ["acme.test"]
sinks = %(acme_sinks)s

# The isolation scenario's tenant: every sink but SQS (moto takes seconds per batch once
# its queue holds a thousand messages; the other scenarios check the SQS sink).
[[tenant]]
name = "iso"
domains = ["iso.test"]
sinks = %(iso_sinks)s

[[sink]]
name = "file"
kind = "file"
path = "%(dir)s/sink-file.jsonl"

[[sink]]
name = "hook"
kind = "webhook"
url = "http://127.0.0.1:%(hook)d/hooks/mail"
allow_plain_http = true
secret = "%(secret)s"
retry_initial = "50ms"
retry_max = "400ms"

%(kafka_sink)s

[[sink]]
name = "jobs"
kind = "sqs"
queue_url = "%(queue)s"
region = "%(region)s"
retry_initial = "50ms"
retry_max = "500ms"
"""
        g = Gateway(extra_toml="", name="events-" + tag, env={
            "AWS_ACCESS_KEY_ID": self.key_id, "AWS_SECRET_ACCESS_KEY": self.secret, "AWS_REGION": "eu-west-1"})
        kafka_sink = """
[[sink]]
name = "bus"
kind = "kafka"
brokers = "%s"
topic = "mail.{tenant}.%s"
retry_initial = "50ms"
retry_max = "500ms"
timeout = "5s"
[sink.properties]
"reconnect.backoff.max.ms" = "500"
""" % (self.kafka.bootstrap, tag) if KAFKA else ""
        with open(g.config_path, "a") as f:
            f.write(extra % {"dir": g.dir, "hook": self.rx.port, "secret": SECRET, "kafka_sink": kafka_sink,
                             "acme_sinks": '["hook", "bus"]' if KAFKA else '["hook"]',
                             "iso_sinks": '["file", "hook", "bus"]' if KAFKA else '["file", "hook"]', "queue": self.sqs.url,
                             "region": self.moto.region})
        return g

    def file_ids(self, g):
        out = set()
        try:
            with open(os.path.join(g.dir, "sink-file.jsonl")) as f:
                for line in f:
                    out.add(json.loads(line)["id"])
        except FileNotFoundError:
            pass
        return out

    def wait(self, what, fn, want, timeout=60):
        deadline = time.time() + timeout
        got = set()
        while time.time() < deadline:
            got = fn()
            if want <= got:
                return got
            time.sleep(0.2)
        self.fail("%s: %d of %d events after %ds (missing e.g. %s)" % (what, len(got & want), len(want), timeout,
                                                                          sorted(want - got)[:3]))

    def test_every_accepted_event_reaches_every_sink_of_its_tenant(self):
        with self.gateway("e2e") as g:
            acme = set(send_many(g.ports["smtp"], 60, "bob@acme.test", threads=3))
            default = set(send_many(g.ports["smtp"], 90, "bob@example.test", threads=3))
            self.assertEqual(len(acme), 60)
            self.assertEqual(len(default), 90)
            self.assertEqual(self.wait("webhook", self.rx.ids, acme | default), acme | default)
            if KAFKA:
                self.assertEqual(self.wait("kafka acme", lambda: self.kafka.ids("mail.acme.e2e"), acme), acme)
                self.assertEqual(self.wait("kafka default", lambda: self.kafka.ids("mail.default.e2e"), default),
                                 default)
            self.assertEqual(self.wait("file", lambda: self.file_ids(g), default), default)  # acme: not routed here
            self.assertEqual(self.wait("sqs", self.sqs.ids, default), default)
            self.assertEqual(self.rx.bad_signatures, 0)
            metrics = g.http_get("/metrics")
            self.assertIn('mxgate_outbox_delivered_total{sink="hook"} 150', metrics)
            self.assertIn('mxgate_outbox_delivered_total{sink="jobs"} 90', metrics)
            g.stop()

    def test_webhook_retries_dead_letters_and_replay(self):
        with self.gateway("retry") as g:
            # The receiver's script is by subject (the event's data.summary.subject).
            self.rx.fail_first["flaky"] = 5
            self.rx.refuse.add("refused")
            flaky = [send_one(g.ports["smtp"], "bob@acme.test", "flaky") for _ in range(3)]
            refused = send_one(g.ports["smtp"], "bob@acme.test", "refused")
            fine = [send_one(g.ports["smtp"], "bob@acme.test", "fine") for _ in range(2)]
            self.wait("webhook", self.rx.ids, set(flaky + fine), timeout=30)
            for i in flaky:
                self.assertEqual(self.rx.attempts[i], 6)  # five 500s, then the 200
            for i in fine:
                self.assertEqual(self.rx.attempts[i], 1)
            dead_path = os.path.join(g.dir, "var", "outbox", "hook", "dead-letters.jsonl")
            def read_dead():
                if not os.path.exists(dead_path):
                    return ""
                with open(dead_path) as f:
                    return f.read().strip()
            dead = g.wait_for(read_dead, 10, "dead letter")
            self.assertEqual(len(dead.splitlines()), 1)
            letter = json.loads(dead)
            self.assertEqual(letter["event"]["id"], refused)
            self.assertEqual(self.rx.attempts[refused], 1)  # refused for good: never retried
            self.assertEqual(letter["error_class"], "permanent_backend")
            self.assertIn("400", letter["reason"])
            status = subprocess.run([os.environ["MXGATE_TEST_BIN"], "outbox", "status", "-c", g.config_path],
                                    capture_output=True, text=True, cwd=g.dir)
            self.assertEqual(status.returncode, 0, status.stderr)
            hook_line = next(line for line in status.stdout.splitlines() if line.startswith("hook\t"))
            self.assertEqual(hook_line.split("\t")[4], "1", status.stdout)  # one dead letter (this run)
            # Fixed: replay while mxgate runs.
            self.rx.refuse.clear()
            r = subprocess.run([os.environ["MXGATE_TEST_BIN"], "outbox", "replay", "--sink", "hook", "-c",
                                g.config_path], capture_output=True, text=True, cwd=g.dir)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("requested from the running mxgate", r.stdout)
            self.wait("webhook after replay", self.rx.ids, {refused}, timeout=15)
            self.assertEqual(self.rx.bad_signatures, 0)
            g.stop()

    def test_a_dead_webhook_delays_no_other_sink_and_drains_after(self):
        with self.gateway("isolation") as g:
            self.rx.down()
            t0 = time.time()
            ids = set(send_many(g.ports["smtp"], ISOLATION_MESSAGES, "bob@iso.test", threads=8))
            self.assertEqual(len(ids), ISOLATION_MESSAGES)  # SMTP kept answering 250
            if KAFKA:
                self.wait("kafka while the webhook is down", lambda: self.kafka.ids("mail.iso.isolation"), ids, 60)
            self.wait("file while the webhook is down", lambda: self.file_ids(g), ids, 60)
            self.assertEqual(self.rx.ids() & ids, set())
            # Kept its latency: (almost) every Kafka delivery within 2.5 s of its event
            # entering the sink's outbox, while the webhook was down for the whole run (a
            # shared queue would show the outage's length here). Measured from the outbox,
            # not from the 250, so that the pipeline's own pace on a busy machine (it runs
            # under SCHED_IDLE) does not count. Not asserted for SQS: moto itself takes
            # seconds per batch under load (PLATFORM.md: too slow to measure a client).
            metrics = g.http_get("/metrics")
            for sink in ("bus",) if KAFKA else ("file",):
                within = le_count(metrics, "mxgate_outbox_dispatch_seconds", sink, "2.5")
                total = le_count(metrics, "mxgate_outbox_dispatch_seconds", sink, "+Inf")
                self.assertGreaterEqual(total, ISOLATION_MESSAGES)
                self.assertGreaterEqual(within, 0.99 * total, "%s: %d of %d within 2.5 s" % (sink, within, total))
            time.sleep(max(0, WEBHOOK_DOWN_SECONDS - (time.time() - t0)))
            self.rx.up()
            self.wait("webhook after recovery", self.rx.ids, ids, 90)
            g.stop()

    @unittest.skipUnless(KAFKA, "MXGATE_TEST_KAFKA_MOCK: the Kafka sink is not built")
    def test_kafka_brokers_down_then_up_loses_nothing(self):
        with self.gateway("brokers") as g:
            before = set(send_many(g.ports["smtp"], 100, "bob@acme.test", threads=4))
            self.kafka.command("down")
            during = set(send_many(g.ports["smtp"], 200, "bob@acme.test", threads=4))
            time.sleep(BROKERS_DOWN_SECONDS)
            self.kafka.command("up")
            after = set(send_many(g.ports["smtp"], 100, "bob@acme.test", threads=4))
            want = before | during | after
            self.assertEqual(self.wait("kafka", lambda: self.kafka.ids("mail.acme.brokers"), want, 90), want)
            g.stop()

    def test_kill9_with_full_outboxes_then_everything_arrives(self):
        g = self.gateway("kill9")
        try:
            g.start()
            self.rx.down()
            ids = set(send_many(g.ports["smtp"], 300, "bob@example.test", threads=6))
            g.wait_for(lambda: 'mxgate_outbox_depth{sink="hook"} 300' in g.http_get("/metrics"), 30,
                       "the webhook's outbox to hold every event")
            g.kill9()
            self.rx.up()
            g.start()
            self.wait("webhook after restart", self.rx.ids, ids, 60)
            self.wait("file after restart", lambda: self.file_ids(g), ids, 30)
            if KAFKA:
                self.wait("kafka after restart", lambda: self.kafka.ids("mail.default.kill9"), ids, 30)
            g.stop()
        finally:
            g.cleanup()


if __name__ == "__main__":
    unittest.main(verbosity=2)
