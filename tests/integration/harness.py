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
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

MXGATE_TEST_BIN = os.environ.get("MXGATE_TEST_BIN", os.path.join(os.path.dirname(__file__), "../../build/src/app/mxgate"))

# `openssl passwd -6 -salt itsalt secret`: the password of user "alice" in every harness config.
ALICE_PASSWORD = "secret"


_handed_out = set()


def free_port(host="127.0.0.1"):
    """A port nobody listens on now and that this process has not handed out before: the
    kernel may offer a just-closed port again, and two listeners given the same one would be
    refused by the config check (SO_REUSEPORT would otherwise let both bind)."""
    while True:
        with socket.socket() as s:
            s.bind((host, 0))
            port = s.getsockname()[1]
        if port not in _handed_out:
            _handed_out.add(port)
            return port


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
    def start(self, timeout=15, ready_path="/readyz"):
        """Starts the process and waits until `ready_path` answers 200 (/healthz for a
        gateway that is meant to start unready)."""
        with open(self.stderr_path, "ab") as err:
            self.proc = subprocess.Popen([MXGATE_TEST_BIN, "serve", "-c", self.config_path], cwd=self.dir,
                                         env=self.env, stdout=err, stderr=err)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("mxgate exited with %s:\n%s" % (self.proc.returncode, self.stderr_text()))
            if self.http_status(ready_path) == 200:
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

    def http_body(self, path):
        """(status, body) of a GET, whatever the status; (None, "") when nothing answers."""
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d%s" % (self.ports["http"], path), timeout=1) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()
        except OSError:
            return None, ""

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


class Bridge:
    """`mxgate bridge --listen <free port> --url <url>` (docs/edge.md section 3); the token, when
    given, through $MXGATE_BRIDGE_TOKEN. stop() returns what it logged."""

    def __init__(self, url, token=None, extra=()):
        self.port = free_port()
        env = dict(os.environ)
        env.pop("MXGATE_BRIDGE_TOKEN", None)
        if token:
            env["MXGATE_BRIDGE_TOKEN"] = token
        self.proc = subprocess.Popen([MXGATE_TEST_BIN, "bridge", "--listen", "127.0.0.1:%d" % self.port, "--url", url]
                                     + list(extra), env=env, stderr=subprocess.PIPE, text=True)
        # Ready when it says so on stderr: a connect probe would itself be a client and open a
        # tunnel of its own (which a one-shot recording server, as in test_edge_bridge, would
        # then answer).
        ready, _, _ = select.select([self.proc.stderr], [], [], 15)
        first = self.proc.stderr.readline() if ready else "(nothing on stderr within 15 s)\n"
        if "listening on port" not in first:
            self.proc.kill()
            raise RuntimeError("bridge did not listen: " + first + self.proc.communicate()[1])
        self.first_line = first

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            out = self.proc.communicate(timeout=10)[1]
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out = self.proc.communicate()[1]
        return self.first_line + out


def queued_id(reply_text):
    """The id from '250 2.0.0 Ok: queued as <ID>'."""
    if isinstance(reply_text, bytes):
        reply_text = reply_text.decode()
    return reply_text.rsplit(" ", 1)[-1].strip()



# -- moto (S3 + IAM) ---------------------------------------------------------------------------
# moto's own server application (the one `python3 -m moto.server` runs), started in a child
# process that keeps moto's in-memory state while its listening socket is closed and opened
# again on the same port: pause()/resume() make the endpoint go away (connections refused)
# and come back with every bucket, object and access key still there. A restarted
# `moto.server` process would lose all of them (its state is memory only).
MOTO_SERVER_SCRIPT = r"""
import sys
from moto.moto_server.threaded_moto_server import ThreadedMotoServer
port = int(sys.argv[1])
server = None
def start():
    global server
    server = ThreadedMotoServer("127.0.0.1", port, verbose=False)
    server.start()
start()
print("ready", flush=True)
for line in sys.stdin:
    cmd = line.strip()
    if cmd == "stop" and server is not None:
        server.stop()
        server._server.server_close()  # refuse connections, as a stopped server would
        server = None
    elif cmd == "start" and server is None:
        start()
    print("done " + cmd, flush=True)
"""


def moto_python():
    """The interpreter that has moto (the pyenv Python, PLATFORM.md), or None."""
    candidates = [os.environ.get("MXGATE_TEST_MOTO_PYTHON"), sys.executable, shutil.which("python3"),
                  os.path.expanduser("~/.pyenv/shims/python3")]
    for c in candidates:
        if c and os.path.exists(c) and subprocess.run([c, "-c", "import moto, boto3"],
                                                      capture_output=True).returncode == 0:
            return c
    return None


class Moto:
    """moto S3/IAM on a free loopback port. With enforce_auth, INITIAL_NO_AUTH_ACTION_COUNT=3:
    create_access_key() spends those three unauthenticated calls on an IAM user, its policy and
    its access key; every later request must carry a valid SigV4 signature of that key."""

    def __init__(self, enforce_auth=True, region="eu-west-1"):
        self.port = free_port()
        self.endpoint = "http://127.0.0.1:%d" % self.port
        self.region = region
        self.enforce_auth = enforce_auth
        self.proc = None

    def start(self, timeout=20):
        python = moto_python()
        if python is None:
            raise unittest_skip("moto is not installed (pyenv Python, PLATFORM.md)")
        env = dict(os.environ)
        if self.enforce_auth:
            env["INITIAL_NO_AUTH_ACTION_COUNT"] = "3"
        self.proc = subprocess.Popen([python, "-c", MOTO_SERVER_SCRIPT, str(self.port)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True)
        if self.proc.stdout.readline().strip() != "ready":
            raise RuntimeError("moto did not start")
        self._wait_ready(timeout)
        return self

    def _wait_ready(self, timeout):
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(self.endpoint + "/moto-api/", timeout=1):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("moto did not answer /moto-api/")

    def _command(self, cmd):
        self.proc.stdin.write(cmd + "\n")
        self.proc.stdin.flush()
        if self.proc.stdout.readline().strip() != "done " + cmd:
            raise RuntimeError("moto: " + cmd + " failed")

    def pause(self):
        """The endpoint goes away (connections refused); moto's state stays."""
        self._command("stop")

    def resume(self):
        self._command("start")
        self._wait_ready(20)

    def stop(self):
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            self.proc.stdin.close()
            self.proc.stdout.close()
        self.proc = None

    def create_access_key(self):
        import boto3
        iam = boto3.client("iam", endpoint_url=self.endpoint, region_name="us-east-1",
                           aws_access_key_id="bootstrap", aws_secret_access_key="bootstrap")
        iam.create_user(UserName="mxgate")
        iam.put_user_policy(UserName="mxgate", PolicyName="all", PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
        key = iam.create_access_key(UserName="mxgate")["AccessKey"]
        return key["AccessKeyId"], key["SecretAccessKey"]

    def s3(self, key_id, secret):
        import boto3
        from botocore.config import Config
        return boto3.client("s3", endpoint_url=self.endpoint, region_name=self.region, aws_access_key_id=key_id,
                            aws_secret_access_key=secret,
                            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 10}))

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def unittest_skip(reason):
    import unittest
    return unittest.SkipTest(reason)


def s3_store_toml(moto, key_id, secret, bucket="acme-mail", extra=""):
    """[store.s3] for a Gateway pointed at `moto` (path addressing); store.backend is set by
    the environment (MXGATE_STORE_BACKEND=s3) because the harness writes [store] itself."""
    return """
[store.s3]
bucket = "%(bucket)s"
region = "%(region)s"
endpoint = "%(endpoint)s"
addressing = "path"
access_key_id = "%(key)s"
secret_access_key = "%(secret)s"
%(extra)s
""" % {"bucket": bucket, "region": moto.region, "endpoint": moto.endpoint, "key": key_id, "secret": secret,
       "extra": extra}
