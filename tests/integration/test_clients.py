"""Real clients against the real server: Python smtplib and swaks deliver over plain SMTP,
STARTTLS and implicit TLS (with AUTH on submission/smtps); each accepted message appears
byte-exact (dot-unstuffed) in the store and as one event line; relaying is refused.
"""
import os
import re
import smtplib
import ssl
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import ALICE_PASSWORD, Gateway, queued_id  # noqa: E402


def tls_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # the harness uses the generated self-signed certificate
    return ctx


def message(subject, body_lines):
    lines = ["From: Sender <sender@origin.test>", "To: <x@example.test>", "Subject: " + subject,
             "Message-ID: <%s@origin.test>" % subject.replace(" ", "-"), ""] + body_lines
    return ("\r\n".join(lines) + "\r\n").encode()


class ClientsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.gw = Gateway(name="clients").start()

    @classmethod
    def tearDownClass(cls):
        code = cls.gw.stop()
        cls.gw.cleanup()
        assert code == 0, "mxgate exited %s" % code

    def send_smtplib(self, client, msg, rcpt="x@example.test", mail_opts=()):
        client.ehlo("client.test")
        code, resp = client.mail("sender@origin.test", list(mail_opts))
        self.assertEqual(code, 250, resp)
        code, resp = client.rcpt(rcpt)
        self.assertEqual(code, 250, resp)
        code, resp = client.data(msg)
        self.assertEqual(code, 250, resp)
        self.assertRegex(resp.decode(), r"^2\.0\.0 Ok: queued as [0-9A-HJKMNP-TV-Z]{26}$")
        return queued_id(resp)

    def assert_stored(self, mid, sent):
        stored = self.gw.wait_for(lambda: self.gw.raw_by_id(mid), 10, "raw message " + mid)
        self.assertEqual(stored, sent)
        ev = self.gw.wait_event(mid)
        self.assertEqual(ev["type"], "mxgate.message.received")
        self.assertEqual(ev["specversion"], "1.0")
        self.assertEqual(ev["data"]["size"], len(sent))
        return ev

    def test_smtplib_plain_with_dot_stuffing(self):
        # Lines that start with dots must be stuffed by the client and unstuffed by us.
        sent = message("plain dots", [".", "..two", ".leading dot", "normal", "."])
        with smtplib.SMTP("127.0.0.1", self.gw.ports["smtp"], timeout=10) as c:
            mid = self.send_smtplib(c, sent)
        ev = self.assert_stored(mid, sent)
        self.assertIsNone(ev["data"]["envelope"]["tls"])
        self.assertEqual([r["address"] for r in ev["data"]["envelope"]["rcpt_to"]], ["x@example.test"])

    def test_smtplib_starttls(self):
        sent = message("starttls", ["over TLS"])
        with smtplib.SMTP("127.0.0.1", self.gw.ports["smtp"], timeout=10) as c:
            c.ehlo("client.test")
            self.assertTrue(c.has_extn("starttls"))
            c.starttls(context=tls_context())
            mid = self.send_smtplib(c, sent)
        ev = self.assert_stored(mid, sent)
        self.assertRegex(ev["data"]["envelope"]["tls"]["version"], r"^TLSv1\.[23]$")

    def test_smtplib_implicit_tls_with_auth(self):
        sent = message("implicit tls", ["over 465-style TLS"])
        with smtplib.SMTP_SSL("127.0.0.1", self.gw.ports["smtps"], context=tls_context(), timeout=10) as c:
            c.ehlo("client.test")
            c.login("alice", ALICE_PASSWORD)
            mid = self.send_smtplib(c, sent, rcpt="someone@elsewhere.example")
        ev = self.assert_stored(mid, sent)
        self.assertEqual(ev["data"]["envelope"]["auth_user"], "alice")

    def test_submission_requires_tls_then_auth(self):
        with smtplib.SMTP("127.0.0.1", self.gw.ports["submission"], timeout=10) as c:
            c.ehlo("client.test")
            self.assertFalse(c.has_extn("auth"), "AUTH must not be offered before TLS")
            code, resp = c.mail("sender@origin.test")
            self.assertEqual(code, 530, resp)
            c.starttls(context=tls_context())
            c.ehlo("client.test")
            self.assertIn("PLAIN", c.esmtp_features.get("auth", "").upper())
            code, resp = c.mail("sender@origin.test")
            self.assertEqual(code, 530, resp)  # authentication required
            c.rset()
            with self.assertRaises(smtplib.SMTPAuthenticationError) as cm:
                c.login("alice", "wrong")
            self.assertEqual(cm.exception.smtp_code, 535)
            c.login("alice", ALICE_PASSWORD)
            sent = message("submission", ["authenticated"])
            mid = self.send_smtplib(c, sent, rcpt="friend@elsewhere.example")
        self.assert_stored(mid, sent)

    def test_relay_denied_without_auth(self):
        with smtplib.SMTP("127.0.0.1", self.gw.ports["smtp"], timeout=10) as c:
            c.ehlo("client.test")
            c.mail("sender@origin.test")
            code, resp = c.rcpt("victim@elsewhere.example")
            self.assertEqual(code, 550)
            self.assertTrue(resp.startswith(b"5.7.1"), resp)

    def test_8bitmime_body_is_kept_exactly(self):
        sent = message("eight bit", ["caf\u00e9 na\u00efve \u65e5\u672c"])  # UTF-8 body bytes
        with smtplib.SMTP("127.0.0.1", self.gw.ports["smtp"], timeout=10) as c:
            mid = self.send_smtplib(c, sent, mail_opts=("BODY=8BITMIME",))
        ev = self.assert_stored(mid, sent)
        self.assertEqual(ev["data"]["envelope"]["body"], "8bitmime")

    def swaks(self, *args):
        cmd = ["swaks", "--server", "127.0.0.1", "--helo", "swaks.test", "--from", "s@origin.test",
               "--to", "x@example.test", "--timeout", "10"] + list(args)
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        m = re.search(r"<[~-]\s+250 2\.0\.0 Ok: queued as (\S+)", out.stdout)
        self.assertIsNotNone(m, out.stdout)
        return m.group(1), self.swaks_data(out.stdout)

    @staticmethod
    def swaks_data(transcript):
        """The message bytes swaks sent, read back from its transcript (" -> " plain,
        " ~> " TLS): the lines after the 354 up to the lone "." (swaks adds a CRLF of its
        own after the data file)."""
        lines, inside = [], False
        for line in transcript.splitlines():
            if re.match(r"<[~-]\s+354 ", line):
                inside = True
                continue
            if inside and re.match(r" [~-]> ", line):
                text = line[4:]
                if text == ".":
                    break
                lines.append(text[1:] if text.startswith("..") else text)  # undo dot-stuffing
        return "".join(l + "\r\n" for l in lines).encode()

    def test_swaks_plain_starttls_implicit(self):
        body_file = os.path.join(self.gw.dir, "swaks.eml")
        sent = message("swaks", ["hello from swaks", ".dotted line"])
        with open(body_file, "wb") as f:
            f.write(sent)
        runs = [("plain", ["--port", str(self.gw.ports["smtp"])]),
                ("starttls", ["--port", str(self.gw.ports["smtp"]), "--tls"]),
                ("implicit", ["--port", str(self.gw.ports["smtps"]), "--tlsc", "--auth", "PLAIN",
                              "--auth-user", "alice", "--auth-password", ALICE_PASSWORD]),
                ("submission", ["--port", str(self.gw.ports["submission"]), "--tls", "--auth", "LOGIN",
                                "--auth-user", "alice", "--auth-password", ALICE_PASSWORD])]
        for name, args in runs:
            with self.subTest(name):
                mid, transmitted = self.swaks("--data", "@" + body_file, *args)
                self.assertTrue(transmitted.startswith(sent), transmitted)
                self.assert_stored(mid, transmitted)

    def test_session_and_message_logs(self):
        sent = message("logged", ["x"])
        with smtplib.SMTP("127.0.0.1", self.gw.ports["smtp"], timeout=10) as c:
            mid = self.send_smtplib(c, sent)
        rec = self.gw.wait_for(lambda: next((m for m in self.gw.logs("message") if m["id"] == mid), None),
                               5, "message log line")
        self.assertEqual(rec["tenant"], "default")
        self.assertEqual(rec["size"], len(sent))
        sess = self.gw.wait_for(lambda: [s for s in self.gw.logs("session") if s.get("messages") == 1
                                         and s.get("helo") == "client.test"], 5, "session log line")
        self.assertEqual(sess[-1]["client_ip"], "127.0.0.1")
        log_text = open(self.gw.log_path).read()
        self.assertNotIn(ALICE_PASSWORD + "\"", log_text)  # never a password...
        self.assertNotIn("Subject: logged", log_text)       # ...nor message content


if __name__ == "__main__":
    unittest.main(verbosity=2)
