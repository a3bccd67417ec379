"""Postfix as a relaying client: a private Postfix instance (its own config, queue and log
under the test directory) routes example.test domains to mxgate through a transport map,
over plain SMTP, STARTTLS (security level encrypt) and implicit TLS (wrapper mode). Each
message must be accepted with "queued as <id>" and stored with the submitted body intact.
"""
import os
import re
import shutil
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import Gateway  # noqa: E402

MASTER_CF = """
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
smtptls   unix  -       -       n       -       -       smtp -o smtp_tls_security_level=encrypt
smtpwrap  unix  -       -       n       -       -       smtp -o smtp_tls_wrappermode=yes -o smtp_tls_security_level=encrypt
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


@unittest.skipUnless(shutil.which("postfix") and os.geteuid() == 0,
                     "needs Postfix (scripts/install-deps.sh) and root to run a private instance")
class PostfixRelayTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # An MX listener with implicit TLS (no AUTH required) for Postfix's wrapper mode.
        mxtls = """
[[listener]]
name = "mxtls"
kind = "smtps"
listen = "127.0.0.1:%(mxtls)d"
auth_required = false
"""
        cls.gw = Gateway(name="postfix", extra_listeners=mxtls,
                         domains=("example.test", "tls.example.test", "wrap.example.test")).start()
        d = cls.pf = os.path.join(cls.gw.dir, "postfix")
        os.makedirs(os.path.join(d, "conf"))
        os.makedirs(os.path.join(d, "queue"))
        os.makedirs(os.path.join(d, "data"))
        shutil.chown(os.path.join(d, "data"), "postfix")
        cls.maillog = os.path.join(d, "maillog")
        with open(os.path.join(d, "conf", "main.cf"), "w") as f:
            f.write("""compatibility_level = 3.6
queue_directory = %(d)s/queue
data_directory = %(d)s/data
meta_directory = /etc/postfix
command_directory = /usr/sbin
daemon_directory = /usr/lib/postfix/sbin
mail_owner = postfix
setgid_group = postdrop
myhostname = relay.it.test
mydomain = it.test
myorigin = it.test
inet_interfaces = loopback-only
inet_protocols = ipv4
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
transport_maps = texthash:%(d)s/conf/transport
smtp_tls_security_level = none
smtp_tls_loglevel = 1
maillog_file = %(d)s/maillog
maillog_file_prefixes = %(d)s
smtputf8_enable = yes
disable_dns_lookups = yes
smtp_host_lookup = native
""" % {"d": d})
        with open(os.path.join(d, "conf", "transport"), "w") as f:
            f.write("example.test smtp:[127.0.0.1]:%d\n" % cls.gw.ports["smtp"])
            f.write("tls.example.test smtptls:[127.0.0.1]:%d\n" % cls.gw.ports["smtp"])
            f.write("wrap.example.test smtpwrap:[127.0.0.1]:%d\n" % cls.gw.ports["mxtls"])
        with open(os.path.join(d, "conf", "master.cf"), "w") as f:
            f.write(MASTER_CF)
        conf = os.path.join(d, "conf")
        subprocess.run(["postfix", "-c", conf, "check"], check=True)
        subprocess.run(["postfix", "-c", conf, "start"], check=True)

    @classmethod
    def tearDownClass(cls):
        subprocess.run(["postfix", "-c", os.path.join(cls.pf, "conf"), "stop"])
        cls.gw.stop()
        cls.gw.cleanup()

    def relay(self, rcpt, subject):
        body = "This body came through Postfix.\r\n.leading dot\r\nend\r\n"
        msg = "From: a@it.test\r\nTo: %s\r\nSubject: %s\r\n\r\n%s" % (rcpt, subject, body)
        subprocess.run(["sendmail", "-C", os.path.join(self.pf, "conf"), "-f", "a@it.test", rcpt],
                       input=msg.encode(), check=True)
        pattern = re.compile(r"to=<%s>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:\d+, .*status=sent \(250 2\.0\.0 Ok: queued as (\w+)\)"
                             % re.escape(rcpt))

        def sent():
            try:
                with open(self.maillog) as f:
                    text = f.read()
            except FileNotFoundError:
                return None
            m = pattern.search(text)
            return m.group(1) if m else None

        mid = self.gw.wait_for(sent, 30, "Postfix to deliver to " + rcpt)
        stored = self.gw.wait_for(lambda: self.gw.raw_by_id(mid), 10, "stored message")
        head, _, stored_body = stored.partition(b"\r\n\r\n")
        self.assertEqual(stored_body, body.encode())
        self.assertIn(("Subject: %s" % subject).encode(), head)
        with open(self.maillog) as f:
            return mid, f.read()

    def test_plain(self):
        self.relay("x@example.test", "postfix plain")

    def test_starttls(self):
        mid, log = self.relay("y@tls.example.test", "postfix starttls")
        self.assertRegex(log, r"TLS connection established to 127\.0\.0\.1\[127\.0\.0\.1\]:%d" % self.gw.ports["smtp"])
        ev = self.gw.wait_event(mid)
        self.assertIsNotNone(ev["data"]["envelope"]["tls"])

    def test_implicit_tls(self):
        mid, log = self.relay("z@wrap.example.test", "postfix wrapper mode")
        ev = self.gw.wait_event(mid)
        self.assertIsNotNone(ev["data"]["envelope"]["tls"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
