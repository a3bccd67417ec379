#!/usr/bin/env python3
"""tests/aws/botocore_vectors.py — SigV4 test vectors from botocore, the reference our
src/aws/sigv4.cc is compared with (tests/aws/sigv4_test.cc reads the JSON this writes).

    botocore_vectors.py --write tests/aws/data/sigv4_vectors.json   regenerate
    botocore_vectors.py --check tests/aws/data/sigv4_vectors.json   regenerate and diff (ctest)

Each vector is a request (method, URL already percent-encoded as our S3 store and sinks build
it, headers, body), credentials, region/service and a fixed time; botocore's SigV4Auth /
S3SigV4Auth (or the query-string variants for presigned URLs) sign it with the time patched
as botocore's own unit tests do, and we record the canonical request, the string to sign and
every header the signer added. Exit 77 (ctest SKIP_RETURN_CODE) when botocore is missing.
Needs nothing but botocore; contacts no network.
"""
import calendar
import datetime
import json
import os
import sys
from unittest import mock
from urllib.parse import quote


sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import vector_file  # noqa: E402

try:
    import botocore
    from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth, SigV4Auth, SigV4QueryAuth
    from botocore.awsrequest import AWSRequest
    from botocore.config import Config
    from botocore.credentials import Credentials
except ImportError as e:  # pragma: no cover
    print(f"SKIP: botocore is not importable ({e}); use the pyenv python3 of the image", file=sys.stderr)
    sys.exit(77)

NOW = datetime.datetime(2026, 12, 7, 11, 18, 39)
NOW_EPOCH = calendar.timegm(NOW.timetuple())
AKID = "AKIDEXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
TOKEN = "IQoJb3JpZ2luX2VjEXAMPLE//////////wEaCWV1LXdlc3QtMSJHMEUCIQ+token=="
REGION = "eu-west-1"
LOCAL = "http://127.0.0.1:9000"
S3_HTTPS = "https://mail-bucket.s3.eu-west-1.amazonaws.com"


def key_url(base, bucket, key, query=""):
    # What the S3 store does: the key encoded once, '/' kept (aws::uriEncode(key, false)).
    path = (f"/{bucket}/" if bucket else "/") + quote(key, safe="/~")
    return base + path + (("?" + query) if query else "")


SIGN = [
    # name, service, s3, method, url, headers, body, token, unsigned payload, raw key (or None)
    ("s3_put_simple", "s3", True, "PUT", key_url(LOCAL, "mail", "acme/raw/2026/12/07/01JEXAMPLE.eml"),
     [("Content-Type", "message/rfc822")], "Subject: hi\r\n\r\nhello\r\n", None, False, "acme/raw/2026/12/07/01JEXAMPLE.eml"),
    ("s3_put_key_spaces", "s3", True, "PUT", key_url(LOCAL, "mail", "acme/attachments/01J/1-my file (2).pdf"),
     [("Content-Type", "application/pdf")], "%PDF-1.4", None, False, "acme/attachments/01J/1-my file (2).pdf"),
    ("s3_put_key_plus_equals_tilde", "s3", True, "PUT", key_url(LOCAL, "mail", "a+b=c~d&e.txt"),
     [("Content-Type", "text/plain")], "x", None, False, "a+b=c~d&e.txt"),
    ("s3_put_key_utf8", "s3", True, "PUT", key_url(LOCAL, "mail", "acme/attachments/01J/1-résumé 日本.pdf"),
     [("Content-Type", "application/octet-stream")], "", None, False, "acme/attachments/01J/1-résumé 日本.pdf"),
    ("s3_put_key_double_slash", "s3", True, "PUT", key_url(LOCAL, "mail", "prefix//raw/./x/../y.eml"),
     [("Content-Type", "message/rfc822")], "body", None, False, "prefix//raw/./x/../y.eml"),
    ("s3_put_key_reserved", "s3", True, "PUT", key_url(LOCAL, "mail", "r!'()*$,;:@[]#?%.txt"),
     [("Content-Type", "text/plain")], "r", None, False, "r!'()*$,;:@[]#?%.txt"),
    ("s3_get_bucket_uploads", "s3", True, "GET", LOCAL + "/mail?uploads", [], "", None, False, None),
    ("s3_post_create_multipart", "s3", True, "POST", key_url(LOCAL, "mail", "big.eml", "uploads"),
     [("Content-Type", "message/rfc822")], "", None, False, None),
    ("s3_put_part", "s3", True, "PUT", key_url(LOCAL, "mail", "big.eml", "partNumber=1&uploadId=x"),
     [], "part one", None, False, None),
    ("s3_put_part_unsorted", "s3", True, "PUT", key_url(LOCAL, "mail", "big.eml", "uploadId=2~x.y_z-&partNumber=10"),
     [], "part ten", None, False, None),
    ("s3_list_v2_prefix_space", "s3", True, "GET", LOCAL + "/mail?list-type=2&prefix=a%20b&delimiter=%2F&max-keys=1000",
     [], "", None, False, None),
    ("s3_session_token_https", "s3", True, "GET", S3_HTTPS + "/acme/parsed/2026/12/07/01J.json",
     [], "", TOKEN, False, None),
    ("s3_unsigned_payload_https", "s3", True, "PUT", S3_HTTPS + "/acme/raw/x.eml",
     [("Content-Type", "message/rfc822"), ("Content-MD5", "XrY7u+Ae7tCTyyK7j1rNww==")], "hello world", None, True, None),
    ("s3_headers_fold_and_repeat", "s3", True, "PUT", key_url(LOCAL, "mail", "meta.eml"),
     [("Content-Type", "message/rfc822"), ("x-amz-meta-Subject", "  hello \t  world  "),
      ("X-Amz-Meta-Tag", "b"), ("x-amz-meta-tag", "a"), ("User-Agent", "mxgate/0.1"),
      ("Expect", "100-continue"), ("x-amz-storage-class", "STANDARD_IA")], "m", None, False, None),
    ("s3_head_nondefault_port", "s3", True, "HEAD", "http://localhost:4566/mail/x.eml", [], "", None, False, None),
    ("s3_delete_https_default_port", "s3", True, "DELETE", "https://s3.eu-west-1.amazonaws.com:443/mail/x.eml",
     [], "", None, False, None),
    ("sqs_json10_send", "sqs", False, "POST", "https://sqs.eu-west-1.amazonaws.com/",
     [("Content-Type", "application/x-amz-json-1.0"), ("X-Amz-Target", "AmazonSQS.SendMessage")],
     '{"QueueUrl":"https://sqs.eu-west-1.amazonaws.com/123456789012/mail-events","MessageBody":"{\\"id\\":\\"01J\\"}"}',
     None, False, None),
    ("sqs_json10_session_token_local", "sqs", False, "POST", "http://127.0.0.1:5000/",
     [("Content-Type", "application/x-amz-json-1.0"), ("X-Amz-Target", "AmazonSQS.GetQueueUrl")],
     '{"QueueName":"mail-events"}', TOKEN, False, None),
    ("sts_query_post", "sts", False, "POST", "https://sts.eu-west-1.amazonaws.com/",
     [("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")],
     "Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fmxgate&RoleSessionName=mxgate",
     None, False, None),
    ("execute_api_double_encoding", "execute-api", False, "POST",
     "https://abc123.execute-api.eu-west-1.amazonaws.com/prod/%40connections/Zm9v%3D",
     [("Content-Type", "application/json")], '{"frame":"250 ok"}', None, False, None),
    ("non_s3_dot_segments", "execute-api", False, "GET",
     "https://abc123.execute-api.eu-west-1.amazonaws.com/a/./b/../c//d/%20e/?b=2&a=1&a=0&c",
     [], "", None, False, None),
]

PRESIGN = [
    # name, service, s3, method, url, token, expires
    ("presign_s3_get", "s3", True, "GET", S3_HTTPS + "/acme/raw/2026/12/07/01J%20x.eml", TOKEN, 900),
    ("presign_s3_get_local_no_token", "s3", True, "GET", LOCAL + "/mail/acme/raw/x.eml", None, 3600),
    ("presign_msk_iam", "kafka-cluster", False, "GET",
     "https://b-1.mail.abc123.c2.kafka.eu-west-1.amazonaws.com/?Action=kafka-cluster%3AConnect", TOKEN, 900),
]


def sign_vector(name, service, s3, method, url, headers, body, token, unsigned, raw_key):
    creds = Credentials(AKID, SECRET, token)
    auth = (S3SigV4Auth if s3 else SigV4Auth)(creds, service, REGION)
    req = AWSRequest(method=method, url=url, data=body.encode("utf-8"))
    for n, v in headers:
        req.headers[n] = v  # HTTPHeaders appends: repeated names stay repeated
    if unsigned:
        req.context["client_config"] = Config(s3={"payload_signing_enabled": False})
    captured = {}
    orig_cr, orig_sts = auth.canonical_request, auth.string_to_sign

    def cr(r):
        captured["canonical_request"] = orig_cr(r)
        return captured["canonical_request"]

    def sts(r, c):
        captured["string_to_sign"] = orig_sts(r, c)
        return captured["string_to_sign"]

    auth.canonical_request, auth.string_to_sign = cr, sts
    with mock.patch("botocore.auth.get_current_datetime", return_value=NOW):
        auth.add_auth(req)
    given = {n.lower() for n, _ in headers}
    added = [[n, v] for n, v in req.headers.items() if n.lower() not in given]
    v = {
        "name": name, "kind": "sign", "service": service, "region": REGION, "s3": s3,
        "method": method, "url": url, "headers": [[n, x] for n, x in headers], "body": body,
        "access_key_id": AKID, "secret_access_key": SECRET, "session_token": token or "",
        "time": NOW_EPOCH, "payload": "UNSIGNED-PAYLOAD" if unsigned else "",
        "canonical_request": captured["canonical_request"],
        "string_to_sign": captured["string_to_sign"],
        "added_headers": added,
    }
    if raw_key is not None:
        v["raw_key"] = raw_key
    return v


def presign_vector(name, service, s3, method, url, token, expires):
    creds = Credentials(AKID, SECRET, token)
    auth = (S3SigV4QueryAuth if s3 else SigV4QueryAuth)(creds, service, REGION, expires=expires)
    req = AWSRequest(method=method, url=url)
    captured = {}
    orig_cr = auth.canonical_request

    def cr(r):
        captured["canonical_request"] = orig_cr(r)
        return captured["canonical_request"]

    auth.canonical_request = cr
    with mock.patch("botocore.auth.get_current_datetime", return_value=NOW):
        auth.add_auth(req)
    return {
        "name": name, "kind": "presign", "service": service, "region": REGION, "s3": s3,
        "method": method, "url": url, "access_key_id": AKID, "secret_access_key": SECRET,
        "session_token": token or "", "time": NOW_EPOCH, "expires": expires,
        "canonical_request": captured["canonical_request"], "presigned_url": req.url,
    }


def generate():
    vectors = [sign_vector(*v) for v in SIGN] + [presign_vector(*v) for v in PRESIGN]
    # The botocore version is left out on purpose: --check must pass on any version that
    # signs the same way, and fail (with a diff) on one that does not.
    doc = {"generator": "tests/aws/botocore_vectors.py", "vectors": vectors}
    return json.dumps(doc, indent=1, ensure_ascii=True) + "\n"


def main(argv):
    return vector_file.run(argv, generate, __doc__, "vectors", botocore.__version__)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
