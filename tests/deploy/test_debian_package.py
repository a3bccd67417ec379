"""The Debian package (deploy/debian/build-deb.sh, issue 14): built from the test binary, it
holds the binary, the unit, /etc/mxgate/mxgate.toml as a conffile and a postinst that
creates the mxgate system user; lintian finds nothing (errors, warnings) with no overrides;
unpacked into a throwaway directory, its binary accepts its config (`mxgate check-config`).
As root, with dpkg's lock free and no mxgate installed or state in /var/lib/mxgate, it is
also installed for real (`dpkg -i`: the user and the state directories are created, the
config is readable by the service's user), checked as that user and purged.
"""
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import unittest

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
BIN = os.environ.get("MXGATE_TEST_BIN", os.path.join(ROOT, "build", "src", "app", "mxgate"))


def run(*cmd, **kw):
    return subprocess.run(list(cmd), capture_output=True, text=True, **kw)


@unittest.skipUnless(shutil.which("dpkg-deb") and shutil.which("dpkg-shlibdeps"),
                     "dpkg-deb / dpkg-shlibdeps are not installed (dpkg-dev, via build-essential)")
class DebianPackageTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="mxgate-deb-")
        r = run(os.path.join(ROOT, "deploy", "debian", "build-deb.sh"), BIN, cls.dir)
        if r.returncode != 0:
            raise AssertionError("build-deb.sh failed:\n" + r.stdout + r.stderr)
        cls.deb = r.stdout.strip().splitlines()[-1]

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def test_contents_and_control(self):
        files = run("dpkg-deb", "--contents", self.deb).stdout
        for path in ("./usr/bin/mxgate", "./lib/systemd/system/mxgate.service", "./etc/mxgate/mxgate.toml",
                     "./usr/share/doc/mxgate/copyright", "./usr/share/man/man1/mxgate.1.gz"):
            self.assertIn(path, files)
        ctl = os.path.join(self.dir, "control")
        run("dpkg-deb", "--control", self.deb, ctl)
        with open(os.path.join(ctl, "conffiles")) as f:
            self.assertEqual(f.read().split(), ["/etc/mxgate/mxgate.toml"])
        with open(os.path.join(ctl, "postinst")) as f:
            self.assertIn("adduser --system", f.read())
        fields = run("dpkg-deb", "--field", self.deb, "Depends").stdout
        self.assertIn("adduser", fields)
        self.assertIn("libc6", fields)  # from dpkg-shlibdeps

    @unittest.skipUnless(shutil.which("lintian"), "lintian is not installed (scripts/install-deps.sh installs it)")
    def test_lintian_is_clean(self):
        r = run("lintian", "--fail-on", "error,warning", "--no-override", self.deb)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertNotRegex(r.stdout, r"(?m)^[EW]: ", r.stdout)

    def test_unpacked_binary_accepts_its_config(self):
        root = os.path.join(self.dir, "root")
        run("dpkg-deb", "-x", self.deb, root)
        r = run(os.path.join(root, "usr/bin/mxgate"), "check-config", "-c", os.path.join(root, "etc/mxgate/mxgate.toml"))
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("ok (3 listeners, 1 tenants", r.stdout)

    def install_blocked(self):
        """Why a real install must not run here, or None."""
        if os.geteuid() != 0:
            return "not root: the package was checked unpacked only"
        if run("dpkg-query", "-W", "-f=${Status}", "mxgate").stdout.startswith("install"):
            return "an mxgate package is installed on this machine: not touching it"
        if os.path.exists("/var/lib/mxgate"):
            return "/var/lib/mxgate exists on this machine: not touching it"
        return None

    def test_install_check_config_purge(self):
        reason = self.install_blocked()
        if reason:
            self.skipTest(reason)
        had_user = True
        try:
            pwd.getpwnam("mxgate")
        except KeyError:
            had_user = False
        try:
            # --no-triggers: man-db's trigger (mandb, ~6 s) runs once, after the purge.
            r = run("dpkg", "-i", "--no-triggers", self.deb)
            if r.returncode != 0 and "lock" in (r.stdout + r.stderr):
                self.skipTest("dpkg's lock is held (apt or dpkg runs): " + r.stderr.strip())
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            user = pwd.getpwnam("mxgate")
            self.assertLess(user.pw_uid, 1000)  # a system user
            for d in ("spool", "store", "outbox", "tls"):
                st = os.stat("/var/lib/mxgate/" + d)
                self.assertEqual(st.st_uid, user.pw_uid, d)
            self.assertEqual(os.stat("/etc/mxgate/mxgate.toml").st_mode & 0o777, 0o640)
            # As the service runs it: the config is readable by mxgate, and valid.
            r = run("runuser", "-u", "mxgate", "--", "/usr/bin/mxgate", "check-config", "-c",
                    "/etc/mxgate/mxgate.toml")
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        finally:
            r = run("dpkg", "--purge", "--no-triggers", "mxgate")
            run("dpkg", "--triggers-only", "--pending")
            if not had_user:
                run("deluser", "--system", "--quiet", "mxgate")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        for gone in ("/usr/bin/mxgate", "/etc/mxgate/mxgate.toml", "/var/lib/mxgate",
                     "/lib/systemd/system/mxgate.service"):
            self.assertFalse(os.path.exists(gone), gone)
        self.assertEqual(glob.glob("/etc/mxgate/*"), [])


if __name__ == "__main__":
    unittest.main(verbosity=2)
