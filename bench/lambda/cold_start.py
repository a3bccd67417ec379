#!/usr/bin/env python3
"""Lambda cold start (issue 12): the time from starting the function's process to its first
`GET /2018-06-01/runtime/invocation/next` on a Runtime API emulator (tests/integration/
lambda_runtime.py), i.e. the init phase Lambda bills and a first request waits for. mxgate's
`bootstrap` loads the configuration, builds the store, the MIME parser and the sinks, then
polls. In the same run, the peer: a Python parser function's init (`import boto3, email,
json` + the clients it would create), as a provided.al2023/python3.x function would pay.

Usage: bench/lambda/cold_start.py [--runs 20] [--bootstrap PATH] [--store s3|local] [--sink file|sqs]
  default PATH: dist's bootstrap unpacked from dist/mxgate-lambda.zip if present, else
  build/src/app/mxgate-lambda.
Prints median and p90 in ms for each, and the ratio.
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "../.."))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from harness import free_port  # noqa: E402
from lambda_runtime import RuntimeApi  # noqa: E402

CONFIG = """
%(store)s
%(sink)s
[[tenant]]
name = "acme"
domains = ["acme.test"]
"""

PEER = ("import time, os, urllib.request\n"
        "import boto3, email, email.policy, json\n"
        "s3 = boto3.client('s3', region_name='eu-west-1')\n"
        "sqs = boto3.client('sqs', region_name='eu-west-1')\n"
        "urllib.request.urlopen('http://' + os.environ['AWS_LAMBDA_RUNTIME_API'] + "
        "'/2018-06-01/runtime/invocation/next', timeout=30)\n")


def measure(cmd, env, workdir):
    api = RuntimeApi(free_port())
    env = dict(env, AWS_LAMBDA_RUNTIME_API="127.0.0.1:%d" % api.port)
    start = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=workdir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        first = api.wait_next(30)
        return (first - start) * 1000
    finally:
        proc.kill()
        proc.wait()
        api.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--bootstrap")
    ap.add_argument("--sink", choices=["file", "sqs"], default="file",
                    help="sqs: a second HTTPS client at init (the sinks' shared one)")
    ap.add_argument("--store", choices=["local", "s3"], default="s3",
                    help="s3 (as deployed: its HTTPS client reads the CA store at init) or local")
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="mxgate-coldstart-")
    try:
        bootstrap = a.bootstrap
        zip_path = os.path.join(ROOT, "dist", "mxgate-lambda.zip")
        if not bootstrap and os.path.exists(zip_path):
            with zipfile.ZipFile(zip_path) as z:
                z.extract("bootstrap", work)
            bootstrap = os.path.join(work, "bootstrap")
            os.chmod(bootstrap, 0o755)
        bootstrap = bootstrap or os.path.join(ROOT, "build", "src", "app", "mxgate-lambda")
        with open(os.path.join(work, "mxgate.toml"), "w") as f:
            store = ('[store]\nbackend = "local"\ndir = "%s/store"\n' % work if a.store == "local" else
                     '[store]\nbackend = "s3"\n[store.s3]\nbucket = "mail-store"\nregion = "eu-west-1"\n')
            sink = ('[events]\nsink = "file"\nfile = "%s/events.jsonl"\n' % work if a.sink == "file" else
                    '[[sink]]\nname = "q"\nkind = "sqs"\n'
                    'queue_url = "https://sqs.eu-west-1.amazonaws.com/123456789012/mail-events"\n')
            f.write(CONFIG % {"dir": work, "store": store, "sink": sink})
        env = {k: v for k, v in os.environ.items() if not k.startswith("MXGATE_")}
        env.update({"MXGATE_CONFIG": os.path.join(work, "mxgate.toml"), "AWS_LAMBDA_FUNCTION_NAME": "bench",
                    "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "y", "AWS_EC2_METADATA_DISABLED": "true"})
        ours, peer = [], []
        python = shutil.which("python3")
        has_boto3 = subprocess.run([python, "-c", "import boto3"], capture_output=True).returncode == 0
        for _ in range(a.runs):
            ours.append(measure([bootstrap], env, work))
            if has_boto3:
                peer.append(measure([python, "-c", PEER], env, work))

        def fmt(v):
            v = sorted(v)
            return "median %.1f ms, p90 %.1f ms (n=%d)" % (statistics.median(v), v[int(0.9 * (len(v) - 1))], len(v))
        print("store: %s, sink: %s" % (a.store, a.sink))
        print("bootstrap (%s): %s" % (os.path.relpath(bootstrap, ROOT) if bootstrap.startswith(ROOT) else "dist zip",
                                      fmt(ours)))
        if peer:
            print("python3 + boto3 + email (peer): %s" % fmt(peer))
            print("ratio peer/ours (medians): %.1fx" % (statistics.median(peer) / statistics.median(ours)))
        else:
            print("peer skipped: boto3 is not importable by %s" % python)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
