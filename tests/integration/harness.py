"""Integration-test harness: runs the real `mxgate serve` binary on loopback with its own
config, directories and free ports, and reads back what it stored, published and logged.

Used by the tests/integration/test_*.py scenarios (stdlib unittest; one file per scenario).
The binary comes from $MXGATE_TEST_BIN (set by ctest). Nothing here is mocked: the tests speak
SMTP to the real server with real clients (smtplib, swaks, Postfix, HAProxy in front).
"""
import glob
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request

MXGATE_TEST_BIN = os.environ.get("MXGATE_TEST_BIN", os.path.join(os.path.dirname(__file__), "../../build/src/app/mxgate"))

# `openssl passwd -6 -salt itsalt secret`: the password of user "alice" in every harness config.
ALICE_PASSWORD = "secret"


def free_port(host="127.0.0.1"):
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def crypt_sha512(password, salt="itsalt"):
    out = subprocess.run(["openssl", "passwd", "-6", "-salt", salt, password],
                         check=True, capture_output=True, text=True)
    return out.stdout.strip()


class Gateway:
    """One mxgate process with a private directory. Use as a context manager."""

    def __init__(self, extra_toml="", listeners=None, extra_listeners="", env=None,
                 domains=("example.test",), name="it"):
        """`listeners` replaces the default three; `extra_listeners` adds to them. Both may use
        %(name)d placeholders: each name gets a free port, readable later in self.ports."""
        self.dir = tempfile.mkdtemp(prefix="mxgate-%s-" % name)
        os.chmod(self.dir, 0o755)  # helper daemons (Postfix runs as "postfix") must reach it
        self.ports = {"smtp": free_port(), "submission": free_port(), "smtps": free_port(),
                      "http": free_port()}
        for key in re.findall(r"%\((\w+)\)d", (listeners or "") + extra_listeners):
            self.ports.setdefault(key, free_port())
        self.env = dict(os.environ)
        self.env.update(env or {})
        self.proc = None
        self.log_path = os.path.join(self.dir, "mxgate.log")
        self.stderr_path = os.path.join(self.dir, "stderr.log")
        if listeners is None:
            listeners = """
[[listener]]
name = "smtp"
kind = "smtp"
listen = "127.0.0.1:%(smtp)d"

[[listener]]
name = "submission"
kind = "submission"
listen = "127.0.0.1:%(submission)d"

[[listener]]
name = "smtps"
kind = "smtps"
listen = "127.0.0.1:%(smtps)d"
"""
        listeners = (listeners + extra_listeners) % self.ports
        domain_list = ", ".join('"%s"' % d for d in domains)
        self.config_path = os.path.join(self.dir, "mxgate.toml")
        with open(self.config_path, "w") as f:
            f.write("""
[server]
hostname = "mx.it.test"
threads = 2
drain_timeout = "5s"

[tls]
cert_file = "%(d)s/tls/cert.pem"
key_file = "%(d)s/tls/key.pem"

[spool]
dir = "%(d)s/spool"

[store]
dir = "%(d)s/store"

[events]
file = "%(d)s/events.jsonl"

[http]
listen = "127.0.0.1:%(http)d"

[log]
file = "%(log)s"

[[tenant]]
name = "default"
domains = [%(domains)s]

[[user]]
name = "alice"
password_hash = "%(hash)s"
tenant = "default"
%(listeners)s
%(extra)s
""" % {"d": self.dir, "http": self.ports["http"], "log": self.log_path, "domains": domain_list,
       "hash": crypt_sha512(ALICE_PASSWORD), "listeners": listeners, "extra": extra_toml})

    # -- process control -------------------------------------------------------------
    def start(self, timeout=15):
        with open(self.stderr_path, "ab") as err:
            self.proc = subprocess.Popen([MXGATE_TEST_BIN, "serve", "-c", self.config_path], cwd=self.dir,
                                         env=self.env, stdout=err, stderr=err)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("mxgate exited with %s:\n%s" % (self.proc.returncode, self.stderr_text()))
            if self.http_status("/readyz") == 200:
                return self
            time.sleep(0.05)
        raise RuntimeError("mxgate did not become ready:\n" + self.stderr_text())

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def cleanup(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        reports = self.sanitizer_reports()
        if reports:
            os.environ["MXGATE_TEST_KEEP"] = "1"  # keep the directory with the full report
        if os.environ.get("MXGATE_TEST_KEEP"):
            print("kept", self.dir)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)
        if reports:
            raise AssertionError("sanitizer report in mxgate's stderr (%s):\n%s" % (self.stderr_path, reports))

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        self.cleanup()

    # -- observation -------------------------------------------------------------------
    SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "WARNING: ThreadSanitizer",
                         "ThreadSanitizer: ", "runtime error: ")

    def sanitizer_reports(self):
        """The sanitizer reports in mxgate's stderr (the ASan/UBSan and TSan builds of
        scripts/test.sh run these scenarios too): every such report fails the test, whether or
        not the process survived it."""
        text = self.stderr_text()
        if not any(m in text for m in self.SANITIZER_MARKERS):
            return ""
        return text[-20000:]

    def stderr_text(self):
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def http_status(self, path):
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d%s" % (self.ports["http"], path), timeout=1) as r:
                return r.status
        except urllib.error.HTTPError as e:
            return e.code
        except OSError:
            return None

    def http_get(self, path):
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (self.ports["http"], path), timeout=2) as r:
            return r.read().decode()

    def logs(self, event=None):
        out = []
        try:
            with open(self.log_path) as f:
                for line in f:
                    rec = json.loads(line)
                    if event is None or rec.get("event") == event:
                        out.append(rec)
        except FileNotFoundError:
            pass
        return out

    def events(self):
        out = []
        path = os.path.join(self.dir, "events.jsonl")
        try:
            with open(path) as f:
                for line in f:
                    if line.strip():
                        out.append(json.loads(line))
        except FileNotFoundError:
            pass
        return out

    def raw_paths(self, tenant="*"):
        return glob.glob(os.path.join(self.dir, "store", tenant, "raw", "*", "*", "*", "*.eml"))

    def raw_by_id(self, message_id, tenant="*"):
        paths = glob.glob(os.path.join(self.dir, "store", tenant, "raw", "*", "*", "*", message_id + ".eml"))
        if not paths:
            return None
        with open(paths[0], "rb") as f:
            return f.read()

    def wait_for(self, predicate, timeout=10, what="condition"):
        deadline = time.time() + timeout
        while time.time() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.05)
        raise AssertionError("timed out waiting for " + what)

    def wait_event(self, message_id, timeout=10):
        return self.wait_for(lambda: next((e for e in self.events() if e.get("id") == message_id), None),
                             timeout, "event for " + message_id)


def queued_id(reply_text):
    """The id from '250 2.0.0 Ok: queued as <ID>'."""
    if isinstance(reply_text, bytes):
        reply_text = reply_text.decode()
    return reply_text.rsplit(" ", 1)[-1].strip()

