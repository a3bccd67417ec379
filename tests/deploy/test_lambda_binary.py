"""The Lambda binary (issue 12, packaging): mxgate-lambda as this build links it runs on
Amazon Linux 2023 (provided.al2023) — deploy/lambda/check-binary.sh: no GLIBC symbol version
newer than 2.34 (objdump -T), no GLIBCXX/CXXABI (static libstdc++), only libraries AL2023 has.
This build has the Kafka sink, so librdkafka.so.1 is allowed here; deploy/lambda/build.sh
builds without it and runs the same check on the zip's `bootstrap` without that allowance.
Also: the binary without a Runtime API says so and exits 2."""
import os
import shutil
import subprocess
import unittest

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
BIN = os.environ.get("MXGATE_TEST_BIN", os.path.join(ROOT, "build", "src", "app", "mxgate"))
LAMBDA = os.path.join(os.path.dirname(BIN), "mxgate-lambda")
CHECK = os.path.join(ROOT, "deploy", "lambda", "check-binary.sh")


@unittest.skipUnless(os.path.exists(LAMBDA), "mxgate-lambda is not built (needs the S3 backend)")
@unittest.skipUnless(shutil.which("objdump") and shutil.which("readelf"), "binutils (objdump, readelf) missing")
class LambdaBinaryTest(unittest.TestCase):
    def test_runs_on_amazon_linux_2023(self):
        r = subprocess.run([CHECK, LAMBDA, "--allow", "librdkafka.so.1"], capture_output=True, text=True)
        print(r.stdout)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("highest GLIBC version needed: GLIBC_2.", r.stdout)

    def test_the_check_fails_on_a_binary_that_would_not_run_there(self):
        # The server binary links libstdc++ and toml's peers dynamically: refused, naming why.
        r = subprocess.run([CHECK, BIN], capture_output=True, text=True)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("FAIL", r.stderr)

    def test_without_a_runtime_api_it_exits_2(self):
        env = {k: v for k, v in os.environ.items() if k != "AWS_LAMBDA_RUNTIME_API"}
        r = subprocess.run([LAMBDA], capture_output=True, text=True, env=env, timeout=30)
        self.assertEqual(r.returncode, 2)
        self.assertIn("AWS_LAMBDA_RUNTIME_API", r.stderr)


if __name__ == "__main__":
    unittest.main()
