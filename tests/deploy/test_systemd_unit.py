"""deploy/systemd/mxgate.service (issue 14): `systemd-analyze verify` accepts it (with the
built binary in ExecStart, since verify checks that the command exists), the hardening the
issue lists is there, `systemd-analyze security` rates it at most 2.0, and TimeoutStopSec
covers the drain of the shipped config (deploy/config/mxgate.toml).
"""
import os
import re
import shutil
import subprocess
import tempfile
import unittest

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
UNIT = os.path.join(ROOT, "deploy", "systemd", "mxgate.service")
CONFIG = os.path.join(ROOT, "deploy", "config", "mxgate.toml")
BIN = os.environ.get("MXGATE_TEST_BIN", os.path.join(ROOT, "build", "src", "app", "mxgate"))


def unit_settings(path):
    """{(section, key): [values]} of a unit file (continuation lines are not used in ours)."""
    out, section = {}, None
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith(("#", ";")):
                continue
            if line.startswith("["):
                section = line.strip("[]")
                continue
            key, _, value = line.partition("=")
            out.setdefault((section, key), []).append(value)
    return out


def seconds(text):
    m = re.fullmatch(r'"?(\d+)(ms|s|m|min)?"?', text.strip())
    n, unit = int(m.group(1)), m.group(2) or "s"
    return {"ms": n / 1000, "s": n, "m": n * 60, "min": n * 60}[unit]


class SystemdUnitTest(unittest.TestCase):
    def setUp(self):
        self.s = unit_settings(UNIT)

    def one(self, key, section="Service"):
        values = self.s.get((section, key))
        self.assertIsNotNone(values, key + " is missing")
        return values[-1]

    def test_hardening(self):
        self.assertEqual(self.one("Type"), "notify")
        self.assertEqual(self.one("User"), "mxgate")
        self.assertEqual(self.one("ProtectSystem"), "strict")
        self.assertEqual(self.one("NoNewPrivileges"), "yes")
        self.assertEqual(self.one("CapabilityBoundingSet"), "CAP_NET_BIND_SERVICE")
        self.assertEqual(self.one("AmbientCapabilities"), "CAP_NET_BIND_SERVICE")
        self.assertGreaterEqual(int(self.one("LimitNOFILE")), 65536)
        self.assertGreater(seconds(self.one("WatchdogSec")), 0)
        rw = self.one("ReadWritePaths").split()
        # The writable paths are exactly where the shipped config writes.
        with open(CONFIG) as f:
            config = f.read()
        spool = re.search(r'\[spool\]\s*dir = "([^"]+)"', config).group(1)
        store = re.search(r'\[store\][^\[]*dir = "([^"]+)"', config).group(1)
        outbox = re.search(r'outbox_dir = "([^"]+)"', config).group(1)
        for path in (spool, store, outbox):
            self.assertIn(path, rw)
        for path in re.findall(r'= "(/[^"]+)"', config):
            if path.startswith("/var/"):
                self.assertTrue(any(path == p or path.startswith(p + "/") for p in rw), path + " is not writable")

    def test_stop_timeout_covers_the_drain(self):
        with open(CONFIG) as f:
            config = f.read()
        drain = seconds(re.search(r'drain_timeout = ("[^"]+")', config).group(1))
        delay = seconds(re.search(r'shutdown_delay = ("[^"]+")', config).group(1))
        self.assertGreater(seconds(self.one("TimeoutStopSec")), drain + delay)

    @unittest.skipUnless(shutil.which("systemd-analyze"), "systemd-analyze is not installed (the systemd package)")
    def test_systemd_analyze_verify_and_security(self):
        self.assertTrue(os.access(BIN, os.X_OK), BIN)
        with tempfile.TemporaryDirectory() as d:
            unit = os.path.join(d, "mxgate.service")
            with open(UNIT) as f, open(unit, "w") as out:
                out.write(f.read().replace("/usr/bin/mxgate", os.path.abspath(BIN)))
            r = subprocess.run(["systemd-analyze", "verify", unit], capture_output=True, text=True, cwd=d)
            mine = [l for l in (r.stdout + r.stderr).splitlines() if "mxgate" in l]
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertEqual(mine, [])
            r = subprocess.run(["systemd-analyze", "security", "--offline=yes", unit], capture_output=True,
                               text=True, cwd=d)
            m = re.search(r"Overall exposure level for mxgate.service: ([\d.]+)", r.stdout)
            self.assertIsNotNone(m, r.stdout + r.stderr)
            self.assertLessEqual(float(m.group(1)), 2.0, r.stdout)


if __name__ == "__main__":
    unittest.main(verbosity=2)
