#!/usr/bin/env python3
"""tests/events/msk_iam_vectors.py — Amazon MSK IAM tokens built with botocore, the reference
src/events/kafka/msk_iam_token.cc is compared with (tests/events/msk_iam_token_test.cc reads
the JSON this writes).

    msk_iam_vectors.py --write tests/events/data/msk_iam_vectors.json   regenerate
    msk_iam_vectors.py --check tests/events/data/msk_iam_vectors.json   regenerate and diff (ctest)

The token is built the way aws-msk-iam-sasl-signer-python 1.0.x builds it (read from its
public source; only botocore is needed here): a GET AWSRequest for
https://kafka.<region>.amazonaws.com/ with params {"Action": "kafka-cluster:Connect"}, signed by
SigV4QueryAuth(credentials, "kafka-cluster", region, expires=900) at a fixed time (patched as
botocore's own tests do), then params replaced by {"User-Agent": <agent>} and the request
prepared (which appends it, form-encoded), the URL base64url-encoded and its '=' padding
stripped; the expiry is X-Amz-Date + 900 s in milliseconds. Exit 77 (ctest SKIP_RETURN_CODE)
when botocore is missing. Contacts no network.
"""
import base64
import calendar
import datetime
import json
import os
import sys
from unittest import mock
from urllib.parse import parse_qs, urlparse


sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import vector_file  # noqa: E402

try:
    import botocore
    from botocore.auth import SigV4QueryAuth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
except ImportError as e:  # pragma: no cover
    print(f"SKIP: botocore is not importable ({e}); use the pyenv python3 of the image", file=sys.stderr)
    sys.exit(77)

AKID = "AKIDEXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
TOKEN = "IQoJb3JpZ2luX2VjEXAMPLE//////////wEaCWV1LXdlc3QtMSJHMEUCIQ+token=="

VECTORS = [
    # name, region, session token, time (UTC, with microseconds), user agent
    ("long_term_keys", "eu-west-1", None, datetime.datetime(2026, 12, 7, 11, 18, 39), "mxgate/0.1.0"),
    ("session_token", "us-east-1", TOKEN, datetime.datetime(2026, 12, 7, 11, 18, 39, 789000), "mxgate/0.1.0"),
    ("agent_with_space", "ap-southeast-2", TOKEN, datetime.datetime(2027, 1, 1, 0, 0, 0), "mxgate/0.1.0 (linux)"),
]


def build(region, token, now, agent):
    creds = Credentials(AKID, SECRET, token)
    sig = SigV4QueryAuth(creds, "kafka-cluster", region, expires=900)
    req = AWSRequest(method="GET", url=f"https://kafka.{region}.amazonaws.com/",
                     params={"Action": "kafka-cluster:Connect"})
    with mock.patch("botocore.auth.get_current_datetime", return_value=now):
        sig.add_auth(req)
    req.params = {"User-Agent": agent}
    url = req.prepare().url
    b64 = base64.urlsafe_b64encode(url.encode("utf-8")).decode("utf-8").rstrip("=")
    date = parse_qs(urlparse(url).query)["X-Amz-Date"][0]
    signed = datetime.datetime.strptime(date, "%Y%m%dT%H%M%SZ")
    return url, b64, (calendar.timegm(signed.timetuple()) + 900) * 1000


def generate():
    out = []
    for name, region, token, now, agent in VECTORS:
        url, b64, expires_ms = build(region, token, now, agent)
        out.append({
            "name": name, "region": region, "access_key_id": AKID, "secret_access_key": SECRET,
            "session_token": token or "", "time_ms": calendar.timegm(now.timetuple()) * 1000 + now.microsecond // 1000,
            "user_agent": agent, "url": url, "token": b64, "expires_ms": expires_ms,
        })
    doc = {"generator": "tests/events/msk_iam_vectors.py", "vectors": out}
    return json.dumps(doc, indent=1, ensure_ascii=True) + "\n"


def main(argv):
    return vector_file.run(argv, generate, __doc__, "MSK IAM tokens", botocore.__version__)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
