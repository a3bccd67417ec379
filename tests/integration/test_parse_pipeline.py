"""The parse pipeline end to end: a message with an RFC 2047 subject, an RFC 2231 filename and
attachments goes in over SMTP; the store then holds the raw .eml, the parsed JSON document
(schema_version 2, envelope, storage refs) and each attachment byte-exact under
{tenant}/attachments/{id}/{n}-{sanitised-name}; the event carries the summary. `mxgate parse`
prints the same document for the stored file.
"""
import base64
import hashlib
import json
import os
import smtplib
import subprocess
import sys
import unittest
from email.message import EmailMessage

sys.path.insert(0, os.path.dirname(__file__))
from harness import MXGATE_TEST_BIN, Gateway, queued_id  # noqa: E402

PDF = b"%PDF-1.4\n" + bytes(range(256)) * 40 + b"\n%%EOF\n"
CSV = "name,city\nJos\u00e9,M\u00fcnchen\n".encode("utf-8")


def build_message():
    m = EmailMessage()
    m["From"] = "=?utf-8?q?J=C3=B6rg_Sender?= <joerg@origin.test>"
    m["To"] = "Support <support@example.test>"
    m["Subject"] = "=?utf-8?b?w5xiZXJ3ZWlzdW5nIGbDvHIgTcOkcno=?="   # "Überweisung für März"
    m["Message-ID"] = "<pipeline-1@origin.test>"
    m["In-Reply-To"] = "<parent@origin.test>"
    m["References"] = "<root@origin.test> <parent@origin.test>"
    m["Authentication-Results"] = "mx.it.test; spf=pass smtp.mailfrom=origin.test; dkim=pass header.d=origin.test"
    m.set_content("Hello,\nplease find the invoice attached.\n")
    m.add_alternative("<p>Hello, please find the <b>invoice</b> attached.</p>", subtype="html")
    m.add_attachment(PDF, maintype="application", subtype="pdf", filename="Rechnung M\u00e4rz.pdf")
    m.add_attachment(CSV, maintype="text", subtype="csv", filename="../../etc/passwd.csv")
    return m.as_bytes(policy=m.policy.clone(linesep="\r\n"))


class ParsePipelineTest(unittest.TestCase):
    def test_message_to_json_attachments_and_event(self):
        with Gateway(name="parse") as gw:
            raw = build_message()
            with smtplib.SMTP("127.0.0.1", gw.ports["smtp"], timeout=10) as c:
                c.ehlo("client.test")
                c.mail("joerg@origin.test")
                c.rcpt("support+billing@example.test")
                code, resp = c.data(raw)
                self.assertEqual(code, 250, resp)
            mid = queued_id(resp)
            ev = gw.wait_event(mid)
            data = ev["data"]
            self.assertEqual(data["sha256"], hashlib.sha256(raw).hexdigest())
            summary = data["summary"]
            self.assertEqual(summary["subject"], "\u00dcberweisung f\u00fcr M\u00e4rz")
            self.assertEqual(summary["from"]["name"], "J\u00f6rg Sender")
            self.assertEqual(summary["message_id"], "pipeline-1@origin.test")
            self.assertEqual(summary["attachment_count"], 2)
            self.assertEqual(summary["auth"]["spf"], "none")  # authserv-id not trusted by default

            store = os.path.join(gw.dir, "store")
            with open(os.path.join(store, data["storage"]["raw"]), "rb") as f:
                self.assertEqual(f.read(), raw)
            with open(os.path.join(store, data["storage"]["parsed"])) as f:
                doc = json.load(f)
            self.assertEqual(doc["schema_version"], 3)
            self.assertEqual(doc["id"], mid)
            self.assertEqual(doc["subject"], "\u00dcberweisung f\u00fcr M\u00e4rz")
            self.assertEqual(doc["in_reply_to"], ["parent@origin.test"])
            self.assertEqual(doc["references"], ["root@origin.test", "parent@origin.test"])
            env = doc["envelope"]
            # One envelope writer: the parsed document and the event carry the same object.
            self.assertEqual(env, data["envelope"])
            self.assertEqual(env["reception"], "smtp")
            self.assertEqual(env["mail_from"], "joerg@origin.test")
            self.assertEqual(env["rcpt_to"][0]["detail"], "billing")
            self.assertEqual(doc["raw"]["ref"], data["storage"]["raw"])

            atts = doc["attachments"]
            self.assertEqual(len(atts), 2)
            by_type = {a["content_type"]: a for a in atts}
            for ctype, content in (("application/pdf", PDF), ("text/csv", CSV)):
                a = by_type[ctype]
                self.assertEqual(a["size"], len(content))
                self.assertEqual(a["sha256"], hashlib.sha256(content).hexdigest())
                path = os.path.join(store, a["ref"])
                # The sanitised name stays inside the message's attachment folder.
                self.assertEqual(os.path.dirname(os.path.realpath(path)),
                                 os.path.realpath(os.path.join(store, "default", "attachments", mid)))
                with open(path, "rb") as f:
                    self.assertEqual(f.read(), content)
            self.assertEqual(sorted(data["storage"]["attachments"]), sorted(a["ref"] for a in atts))

            # The CLI prints the same structure for the stored raw file.
            out = subprocess.run([MXGATE_TEST_BIN, "parse", os.path.join(store, data["storage"]["raw"])],
                                 capture_output=True, check=True)
            cli = json.loads(out.stdout)
            self.assertEqual(cli["subject"], doc["subject"])
            self.assertEqual([p["part_id"] for p in cli["parts"]], [p["part_id"] for p in doc["parts"]])
            self.assertIsNone(cli["envelope"])

    def test_parse_cli_stdin_and_errors(self):
        out = subprocess.run([MXGATE_TEST_BIN, "parse", "-"], input=b"no header block at all\r\n",
                             capture_output=True, check=True)
        doc = json.loads(out.stdout)
        self.assertTrue(any(e["code"] == "NO_HEADERS" for e in doc["errors"]), doc["errors"])
        missing = subprocess.run([MXGATE_TEST_BIN, "parse", "/nonexistent.eml"], capture_output=True)
        self.assertEqual(missing.returncode, 1)
        self.assertIn(b"/nonexistent.eml", missing.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
