"""The edge Worker (edge/) in the real Workers runtime, for test_edge_workerd.py and
bench/edge/run.py: `wrangler dev` from edge/node_modules (the pinned wrangler, which runs
workerd) on a free loopback port, local mode, offline.

What the Worker reads is set up the way an operator would on a dev machine, with nothing
added to the Worker for tests:
  - KV (the region table, tenants, blocklist): written with `wrangler kv bulk put --local`
    into a private `--persist-to` directory before `wrangler dev` opens that same directory;
  - the secret MXGATE_EDGE_SECRET: an `--env-file` in the private directory (never argv);
  - [vars]: `--var NAME:value` overrides of wrangler.toml;
  - `request.cf`: miniflare's CLOUDFLARE_CF_FETCH_PATH, a cf.json written here (offline,
    miniflare would otherwise try workers.cloudflare.com and fall back to a placeholder);
  - Durable Objects (the rate limiter): wrangler's local SQLite under --persist-to.
Offline quirks handled here: no login is needed in local mode; metrics, error reports, the
banner and its npm update check are switched off (WRANGLER_SEND_METRICS=false, ...), and
wrangler's global state (dev registry, logs, metrics consent) lives in the private
directory (XDG_CONFIG_HOME), so runs do not meet one another or the user's ~/.config.

`wrangler dev` is started in a process group of its own (npm → node → workerd ×2, esbuild)
and stopped by signalling the whole group (SIGTERM, then SIGKILL). Every wait has a timeout.
Trust: only our own configuration goes in; the Worker's log is read for diagnostics only.
"""
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "../.."))
EDGE_DIR = os.path.join(ROOT, "edge")
WRANGLER = os.path.join(EDGE_DIR, "node_modules", ".bin", "wrangler")
WORKERD = os.path.join(EDGE_DIR, "node_modules", "@cloudflare", "workerd-linux-64", "bin", "workerd")


def unavailable():
    """Why the Worker cannot be run here, or None."""
    for tool in ("node", "npm"):
        if shutil.which(tool) is None:
            return "%s is not installed (the image has node 20 + npm)" % tool
    if not os.path.exists(WRANGLER) or not os.path.exists(WORKERD):
        return ("edge/node_modules has no wrangler/workerd: run `npm ci` in edge/ "
                "(scripts/test-edge.sh, ctest edge.vitest, does)")
    return None


def _free_port():
    # The harness's free_port when imported from the tests (it remembers what it handed out).
    from harness import free_port
    return free_port()


class WorkerDev:
    """One `wrangler dev` of edge/ with its own KV, Durable Object state and secret.

    kv: {key: value} (values that are not strings are JSON-encoded), written before start;
    vars: {NAME: value} [vars] overrides; cf: the request.cf object every request gets.
    """

    def __init__(self, secret, kv, vars=None, cf=None, name="edge"):
        self.dir = tempfile.mkdtemp(prefix="mxgate-%s-wrangler-" % name)
        self.port = _free_port()
        self.inspector_port = _free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.ws_url = "ws://127.0.0.1:%d/v1/smtp" % self.port
        self.log_path = os.path.join(self.dir, "wrangler.log")
        self.proc = None
        self.timings = {}
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith(("CLOUDFLARE_", "CF_", "WRANGLER_", "MXGATE_"))}
        self.env.update({
            "WRANGLER_SEND_METRICS": "false",
            "WRANGLER_SEND_ERROR_REPORTS": "false",
            "WRANGLER_HIDE_BANNER": "true",  # the banner's npm update check, too
            "XDG_CONFIG_HOME": os.path.join(self.dir, "config"),
            "WRANGLER_LOG_PATH": os.path.join(self.dir, "logs"),
            "NO_COLOR": "1",
            "FORCE_COLOR": "0",
            "CI": "1",  # no interactive prompts
        })
        with open(os.path.join(self.dir, "secrets.env"), "w") as f:
            f.write("MXGATE_EDGE_SECRET=%s\n" % secret)
        os.chmod(os.path.join(self.dir, "secrets.env"), 0o600)
        with open(os.path.join(self.dir, "kv.json"), "w") as f:
            json.dump([{"key": k, "value": v if isinstance(v, str) else json.dumps(v)} for k, v in kv.items()], f)
        if cf is not None:
            with open(os.path.join(self.dir, "cf.json"), "w") as f:
                json.dump(cf, f)
            self.env["CLOUDFLARE_CF_FETCH_PATH"] = os.path.join(self.dir, "cf.json")
        else:
            self.env["CLOUDFLARE_CF_FETCH_ENABLED"] = "false"
        self.vars = dict(vars or {})

    def _wrangler(self, *args):
        return [WRANGLER, *args, "--config", os.path.join(EDGE_DIR, "wrangler.toml")]

    def start(self, timeout=60):
        t0 = time.monotonic()
        state = os.path.join(self.dir, "state")
        # Its own process group, so that a timeout stops wrangler's node child too (which
        # would otherwise keep the output pipe open and the wait going).
        seed = subprocess.Popen(self._wrangler("kv", "bulk", "put", os.path.join(self.dir, "kv.json"), "--local",
                                               "--binding", "EDGE_KV", "--persist-to", state),
                                cwd=EDGE_DIR, env=self.env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, start_new_session=True)
        try:
            out = seed.communicate(timeout=timeout)[0]
        except subprocess.TimeoutExpired:
            os.killpg(seed.pid, signal.SIGKILL)
            out = seed.communicate()[0]
            raise RuntimeError("wrangler kv bulk put took over %d s:\n%s" % (timeout, out))
        if seed.returncode != 0:
            raise RuntimeError("wrangler kv bulk put failed:\n" + out)
        t1 = time.monotonic()
        args = self._wrangler("dev", "--local", "--ip", "127.0.0.1", "--port", str(self.port),
                              "--inspector-port", str(self.inspector_port), "--persist-to", state,
                              "--env-file", os.path.join(self.dir, "secrets.env"),
                              "--show-interactive-dev-session=false", "--log-level", "info")
        for k, v in self.vars.items():
            args += ["--var", "%s:%s" % (k, v)]
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(args, cwd=EDGE_DIR, env=self.env, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=log, start_new_session=True)
        deadline = t1 + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("wrangler dev exited with %s:\n%s" % (self.proc.returncode, self.log_text()))
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=2) as r:
                    if r.status == 200:
                        break
            except (OSError, urllib.error.HTTPError):
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("wrangler dev did not answer /healthz within %d s:\n%s" % (timeout,
                                                                                              self.log_text()))
            time.sleep(0.1)
        self.timings = {"kv_seed_s": t1 - t0, "dev_ready_s": time.monotonic() - t1}
        return self

    def stop(self):
        """Stops wrangler dev and its workerd/esbuild children (the whole process group)."""
        if self.proc is None:
            return
        for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline and _group_alive(self.proc.pid):
                self.proc.poll()
                time.sleep(0.05)
            if not _group_alive(self.proc.pid):
                break
        self.proc.wait(timeout=5)
        self.proc = None

    def cleanup(self):
        self.stop()
        if os.environ.get("MXGATE_TEST_KEEP"):
            print("kept", self.dir)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)

    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")[-20000:]
        except OSError:
            return ""

    def __enter__(self):
        try:
            return self.start()
        except BaseException:
            self.cleanup()
            raise

    def __exit__(self, *exc):
        self.cleanup()


def _group_alive(pgid):
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
