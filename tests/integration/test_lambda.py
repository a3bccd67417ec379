"""`mxgate-lambda` (the Lambda `bootstrap`, issue 12 part 1) end to end on loopback: a Runtime
API emulator (lambda_runtime.py) hands it S3, SQS-wrapped and SES events; moto serves S3 with
SigV4 enforced. Checks what the server would produce — raw message, parsed JSON, attachment
under the server's keys, one event per message in the file sink — the SQS partial-batch answer
(only the poisoned record failed), idempotent retries (same ids and keys), S3 down then back
(error, then the retry succeeds), an init error for a bad configuration, and prints the cold
start (process start to the first GET /next)."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import MXGATE_TEST_BIN, Moto, free_port, moto_python, s3_store_toml  # noqa: E402
from lambda_runtime import RuntimeApi  # noqa: E402

LAMBDA_BIN = os.path.join(os.path.dirname(MXGATE_TEST_BIN), "mxgate-lambda")

MESSAGE = (b"Return-Path: <bounce@sender.test>\r\n"
           b"From: Ann <ann@sender.test>\r\n"
           b"To: bob@acme.test\r\n"
           b"Subject: lambda test\r\n"
           b"MIME-Version: 1.0\r\n"
           b"Content-Type: multipart/mixed; boundary=b\r\n\r\n"
           b"--b\r\nContent-Type: text/plain\r\n\r\nhello\r\n"
           b"--b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"r.pdf\"\r\n\r\n"
           b"%PDF-1.4\r\n--b--\r\n")


def s3_event(bucket, key):
    return {"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
                         "s3": {"bucket": {"name": bucket}, "object": {"key": key, "size": 1}}}]}


class Function:
    def __init__(self, config_text, workdir):
        self.api = RuntimeApi(free_port())
        self.workdir = workdir
        with open(os.path.join(workdir, "mxgate.toml"), "w") as f:
            f.write(config_text)
        env = {k: v for k, v in os.environ.items() if not k.startswith("MXGATE_") or k.startswith("MXGATE_TEST_")}
        env.update({"AWS_LAMBDA_RUNTIME_API": "127.0.0.1:%d" % self.api.port, "AWS_LAMBDA_FUNCTION_NAME": "mxgate-parse",
                    "MXGATE_CONFIG": os.path.join(workdir, "mxgate.toml"), "AWS_EC2_METADATA_DISABLED": "true"})
        self.out = open(os.path.join(workdir, "stdout.log"), "ab")
        self.started = time.monotonic()
        self.proc = subprocess.Popen([LAMBDA_BIN], cwd=workdir, env=env, stdout=self.out, stderr=subprocess.STDOUT)

    def lines(self):
        with open(os.path.join(self.workdir, "stdout.log")) as f:
            return [json.loads(ln) for ln in f if ln.startswith("{")]

    def stop(self):
        """Stops the function; returns its sanitizer reports (ASan/UBSan builds), if any."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.api.close()
        self.out.close()
        with open(os.path.join(self.workdir, "stdout.log"), errors="replace") as f:
            return [ln for ln in f if "ERROR: AddressSanitizer" in ln or "runtime error:" in ln
                    or "ERROR: LeakSanitizer" in ln]


@unittest.skipIf(not os.path.exists(LAMBDA_BIN), "mxgate-lambda not built (needs the S3 backend)")
class LambdaTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if moto_python() is None:
            raise unittest.SkipTest("moto is not installed (pyenv Python, PLATFORM.md)")
        cls.moto = Moto().start()
        cls.key_id, cls.secret = cls.moto.create_access_key()
        cls.s3 = cls.moto.s3(cls.key_id, cls.secret)
        for b in ("mail-store", "uploads", "ses-mail"):
            cls.s3.create_bucket(Bucket=b, CreateBucketConfiguration={"LocationConstraint": cls.moto.region})
        cls.dir = tempfile.mkdtemp(prefix="mxgate-lambda-")
        cls.config = ("[store]\nbackend = \"s3\"\n" + s3_store_toml(cls.moto, cls.key_id, cls.secret, bucket="mail-store")
                      + "\n[events]\nsink = \"file\"\nfile = \"%s\"\n" % os.path.join(cls.dir, "events.jsonl")
                      + "\n[lambda]\nses_bucket = \"ses-mail\"\nses_prefix = \"inbound/\"\n"
                      + "\n[[tenant]]\nname = \"acme\"\ndomains = [\"acme.test\"]\n")
        cls.fn = Function(cls.config, cls.dir)
        first_next = cls.fn.api.wait_next()
        cls.cold_start_ms = (first_next - cls.fn.started) * 1000

    @classmethod
    def tearDownClass(cls):
        reports = cls.fn.stop()
        cls.moto.stop()
        shutil.rmtree(cls.dir, ignore_errors=True)
        if reports:
            raise AssertionError("sanitizer reports from mxgate-lambda:\n" + "".join(reports))

    def events(self):
        try:
            with open(os.path.join(self.dir, "events.jsonl")) as f:
                return [json.loads(ln) for ln in f if ln.strip()]
        except FileNotFoundError:
            return []

    def get(self, key):
        return self.s3.get_object(Bucket="mail-store", Key=key)["Body"].read()

    def test_cold_start_is_reported(self):
        print("\nmxgate-lambda cold start (process start to the first GET /next): %.1f ms" % self.cold_start_ms)
        init = [ln for ln in self.fn.lines() if ln.get("msg") == "init done"]
        self.assertEqual(len(init), 1)
        self.assertLess(self.cold_start_ms, 5000)  # a sanity bound (slow sanitizer builds), not the target

    def test_s3_event_is_parsed_stored_and_published_idempotently(self):
        self.s3.put_object(Bucket="uploads", Key="in/a message.eml", Body=MESSAGE)
        before = len(self.events())
        kind, doc, _ = self.fn.api.invoke(s3_event("uploads", "in/a+message.eml"),
                                          trace="Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1")
        self.assertEqual(kind, "response", doc)
        self.assertEqual(doc["disposition"], "CONTINUE")
        evs = self.events()[before:]
        self.assertEqual(len(evs), 1)
        ev = evs[0]
        self.assertEqual(ev["traceparent"], "00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01")
        self.assertEqual(ev["source"], "mxgate://mxgate-parse/lambda")
        data = ev["data"]
        self.assertEqual(data["tenant"], "acme")
        self.assertEqual(data["envelope"]["reception"], "lambda")
        self.assertEqual(data["envelope"]["mail_from"], "bounce@sender.test")
        self.assertEqual(self.get(data["storage"]["raw"]), MESSAGE)
        parsed = json.loads(self.get(data["storage"]["parsed"]))
        self.assertEqual(parsed["subject"], "lambda test")
        self.assertEqual(len(data["storage"]["attachments"]), 1)
        self.assertEqual(self.get(data["storage"]["attachments"][0]), b"%PDF-1.4")
        # Lambda retries the same event: the same id, keys and event.
        kind, _, _ = self.fn.api.invoke(s3_event("uploads", "in/a+message.eml"))
        self.assertEqual(kind, "response")
        again = self.events()[-1]
        self.assertEqual(again["id"], ev["id"])
        self.assertEqual(again["data"]["storage"], data["storage"])

    def test_sqs_batch_reports_only_the_poisoned_record(self):
        self.s3.put_object(Bucket="uploads", Key="b.eml", Body=MESSAGE)
        batch = {"Records": [
            {"eventSource": "aws:sqs", "messageId": "good-1", "body": json.dumps(s3_event("uploads", "b.eml"))},
            {"eventSource": "aws:sqs", "messageId": "poison-2", "body": "{\"Records\": 7}"},
            {"eventSource": "aws:sqs", "messageId": "sns-3", "body": json.dumps(
                {"Type": "Notification", "Message": json.dumps(s3_event("uploads", "b.eml"))})},
        ]}
        before = len(self.events())
        kind, doc, _ = self.fn.api.invoke(batch)
        self.assertEqual(kind, "response", doc)
        self.assertEqual(doc, {"batchItemFailures": [{"itemIdentifier": "poison-2"}]})
        self.assertEqual(len(self.events()) - before, 2)
        failed = [ln for ln in self.fn.lines() if ln.get("msg") == "message failed" and ln.get("record_id") == "poison-2"]
        self.assertTrue(failed and failed[-1]["reason"], failed)

    def test_ses_event_uses_the_smtp_envelope(self):
        self.s3.put_object(Bucket="ses-mail", Key="inbound/sesid0001", Body=MESSAGE)
        ses = {"Records": [{"eventSource": "aws:ses", "eventVersion": "1.0", "ses": {
            "mail": {"timestamp": "2026-03-04T05:06:07.890Z", "source": "envelope@sender.test",
                     "messageId": "sesid0001", "destination": ["carol@acme.test"]},
            "receipt": {"spfVerdict": {"status": "PASS"}, "dkimVerdict": {"status": "PASS"},
                        "dmarcVerdict": {"status": "PASS"}, "spamVerdict": {"status": "PASS"},
                        "virusVerdict": {"status": "PASS"}}}}]}
        kind, doc, _ = self.fn.api.invoke(ses)
        self.assertEqual(kind, "response", doc)
        data = self.events()[-1]["data"]
        self.assertEqual(data["envelope"]["mail_from"], "envelope@sender.test")
        self.assertEqual([r["address"] for r in data["envelope"]["rcpt_to"]], ["carol@acme.test"])
        self.assertEqual(data["received_at"], "2026-03-04T05:06:07.890Z")
        self.assertEqual(data["receipt"], {"by": "ses", "spf": "PASS", "dkim": "PASS", "dmarc": "PASS", "spam": "PASS",
                                           "virus": "PASS"})
        self.assertTrue(data["storage"]["raw"].startswith("acme/raw/2026/03/04/"), data["storage"]["raw"])

    def test_missing_object_fails_the_invocation_with_the_reason(self):
        kind, doc, headers = self.fn.api.invoke(s3_event("uploads", "nothing-here.eml"))
        self.assertEqual(kind, "error")
        self.assertEqual(doc["errorType"], "Mxgate.permanent_backend")
        self.assertIn("nothing-here.eml", doc["errorMessage"])
        self.assertEqual(headers.get("Lambda-Runtime-Function-Error-Type"), "Mxgate.permanent_backend")

    def test_zz_s3_down_then_back(self):
        self.s3.put_object(Bucket="uploads", Key="c.eml", Body=MESSAGE)
        self.moto.pause()
        try:
            kind, doc, _ = self.fn.api.invoke(s3_event("uploads", "c.eml"), timeout=120)
        finally:
            self.moto.resume()
        self.assertEqual(kind, "error", doc)
        self.assertEqual(doc["errorType"], "Mxgate.transient_backend")
        kind, doc, _ = self.fn.api.invoke(s3_event("uploads", "c.eml"))
        self.assertEqual(kind, "response", doc)


@unittest.skipIf(not os.path.exists(LAMBDA_BIN), "mxgate-lambda not built (needs the S3 backend)")
class LambdaInitTest(unittest.TestCase):
    def test_bad_config_is_an_init_error(self):
        d = tempfile.mkdtemp(prefix="mxgate-lambda-init-")
        fn = Function("[store]\nbackend = \"nope\"\n", d)
        try:
            kind, doc, headers = fn.api.wait_init_error()
            self.assertEqual(doc["errorType"], "Runtime.ConfigError")
            self.assertIn("store.backend", doc["errorMessage"])
            self.assertEqual(fn.proc.wait(timeout=10), 1)
            self.assertEqual(fn.api.next_calls, 0)
        finally:
            reports = fn.stop()
            shutil.rmtree(d, ignore_errors=True)
        self.assertEqual(reports, [])


if __name__ == "__main__":
    unittest.main()
