"""Quarantine end to end, against the running binary.

A tenant's store directory is broken (a regular file sits where the store needs the
tenant's directory, so every raw object of that tenant fails with ENOTDIR: the local store
reports it as a transient I/O error, the pipeline retries with backoff and, past
pipeline.give_up_after, moves the record to the quarantine). Meanwhile mail for another
tenant flows. `mxgate quarantine list` (table and --json) shows the record with its reason;
a `retry` before the cause is fixed sends it back to the quarantine with its history; after
the fix, `retry --all` — while `mxgate serve` runs and holds the spool lock — has it stored
and its event published. /metrics counts all of it.
"""
import json
import os
import re
import smtplib
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import MXGATE_TEST_BIN, Gateway, queued_id  # noqa: E402

EXTRA = """
[pipeline]
give_up_after = "1s"

[[tenant]]
name = "broken"
domains = ["broken.test"]
"""


def send(gw, rcpt, subject):
    msg = ("From: a@origin.test\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: <%s@origin.test>\r\n\r\nhello\r\n"
           % (rcpt, subject, subject)).encode()
    with smtplib.SMTP("127.0.0.1", gw.ports["smtp"], timeout=10) as c:
        c.ehlo("client.test")
        c.mail("a@origin.test")
        c.rcpt(rcpt)
        code, resp = c.data(msg)
    assert code == 250, resp
    return queued_id(resp), msg


def quarantine(gw, *args):
    return subprocess.run([MXGATE_TEST_BIN, "quarantine", "-c", gw.config_path] + list(args),
                          capture_output=True, text=True, cwd=gw.dir, env=gw.env)


def listed(gw):
    out = quarantine(gw, "list", "--json")
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def metric(text, name):
    m = re.search(r"^%s (\S+)$" % re.escape(name), text, re.M)
    return float(m.group(1)) if m else None


class QuarantineTest(unittest.TestCase):
    def test_permanent_failure_listed_fixed_and_retried_while_serving(self):
        gw = Gateway(extra_toml=EXTRA, name="quarantine")
        store = os.path.join(gw.dir, "store")
        os.makedirs(store)
        blocker = os.path.join(store, "broken")
        with open(blocker, "w") as f:
            f.write("not a directory\n")
        try:
            gw.start()
            bad_id, bad_msg = send(gw, "x@broken.test", "bad")
            entries = gw.wait_for(lambda: listed(gw), timeout=20, what="the record in the quarantine")
            self.assertEqual(len(entries), 1, entries)
            e = entries[0]
            self.assertEqual(e["id"], bad_id)
            self.assertEqual(e["tenant"], "broken")
            self.assertFalse(e["damaged"])
            self.assertEqual(e["size"], len(bad_msg))
            self.assertEqual(e["error_class"], "transient_backend")
            self.assertIn("Not a directory", e["reason"])
            self.assertIn("gave up after", e["reason"])
            self.assertGreaterEqual(e["attempts"], 2)
            self.assertEqual(e["envelope"]["rcpt_to"][0]["address"], "x@broken.test")
            self.assertTrue(e["origin"].startswith("spool lane "), e["origin"])
            self.assertIsNone(gw.raw_by_id(bad_id))
            self.assertFalse(any(ev["id"] == bad_id for ev in gw.events()))
            self.assertTrue(any("quarantin" in r.get("message", "") and bad_id in r.get("message", "")
                                for r in gw.logs("pipeline")), gw.logs("pipeline"))

            # The consumer moved on: another tenant's mail is stored and published.
            good_id, good_msg = send(gw, "y@example.test", "good")
            gw.wait_event(good_id)
            self.assertEqual(gw.raw_by_id(good_id), good_msg)

            # The table.
            table = quarantine(gw, "list")
            self.assertEqual(table.returncode, 0, table.stderr)
            self.assertIn(bad_id, table.stdout)
            self.assertIn("broken", table.stdout)
            self.assertIn("1 entry", table.stdout)

            # Retried before the cause is fixed: back in the quarantine, with its history.
            r = quarantine(gw, "retry", bad_id)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("queued " + bad_id, r.stdout)
            again = gw.wait_for(lambda: [x for x in listed(gw) if x["retries"] == 1], timeout=20,
                                what="the failed retry back in the quarantine")[0]
            self.assertGreater(again["attempts"], e["attempts"])
            self.assertEqual(again["first_failure"], e["first_failure"])
            self.assertGreater(again["last_failure"], e["last_failure"])
            self.assertEqual(again["origin"], "retry")
            self.assertEqual(os.listdir(os.path.join(gw.dir, "spool", "quarantine", "retry")), [])

            # Unknown and malformed ids are errors.
            bad = quarantine(gw, "retry", "01HF0000000000000000000000", "../../x")
            self.assertEqual(bad.returncode, 1)
            self.assertIn("no entry 01HF0000000000000000000000", bad.stderr)
            self.assertIn("not a message id", bad.stderr)

            # Fixed, then retried while the server runs: stored and published.
            os.unlink(blocker)
            r = quarantine(gw, "retry", "--all")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("queued " + bad_id, r.stdout)
            ev = gw.wait_event(bad_id, timeout=20)
            self.assertEqual(gw.raw_by_id(bad_id, tenant="broken"), bad_msg)
            self.assertEqual(ev["data"]["tenant"], "broken")
            self.assertIsNotNone(ev["data"]["storage"]["parsed"])
            self.assertEqual(listed(gw), [])
            self.assertIn("is empty", quarantine(gw, "list").stdout)

            # The counters move just after the event is written (and the inbox entry is
            # deleted after it): wait for them rather than race them.
            inbox = os.path.join(gw.dir, "spool", "quarantine", "retry")
            text = gw.wait_for(lambda: (lambda t: t if metric(t, "mxgate_pipeline_quarantine_retries_total") == 1
                                        and not os.listdir(inbox) else None)(gw.http_get("/metrics")),
                               timeout=10, what="the retry counted and its inbox entry deleted")
            self.assertEqual(metric(text, "mxgate_pipeline_records_quarantined_total"), 2)  # first stay + failed retry
            self.assertEqual(metric(text, "mxgate_pipeline_quarantine_retries_total"), 1)
            self.assertEqual(metric(text, "mxgate_pipeline_records_processed_total"), 1)   # the good one
            self.assertGreaterEqual(metric(text, "mxgate_pipeline_failures_transient_total"), 4)
            self.assertEqual(metric(text, "mxgate_spool_depth"), 0)
            self.assertEqual(metric(text, "mxgate_spool_oldest_record_age_seconds"), 0)
            self.assertEqual(metric(text, "mxgate_pipeline_parse_seconds_count"), 2)
            self.assertIn("# TYPE mxgate_pipeline_publish_seconds histogram", text)
            self.assertIn('mxgate_pipeline_publish_seconds_bucket{le="+Inf"}', text)
            self.assertEqual(gw.stop(), 0)
        finally:
            gw.stop()
            gw.cleanup()


if __name__ == "__main__":
    unittest.main(verbosity=2)
