#!/usr/bin/env python3
"""Writes the hand-made seed messages of the MIME fuzz targets into
fuzz/corpus/mime_parse_fuzz/ and fuzz/corpus/mime_json_fuzz/, each file named by the
SHA-256 of its bytes (STYLE.md "Fuzzing"). Covers the parser's features and known defects;
the shared test corpora are not copied (PLATFORM.md). Re-running is idempotent.
Usage: python3 fuzz/mime/make_seeds.py
"""
import hashlib
import os

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))

SEEDS = [
    b"From: a@example.com\r\nTo: b@example.org\r\nSubject: hello\r\n\r\nbody\r\n",
    b"Subject: no blank line\nThis starts the body\n",
    b"Just a body, no headers at all.\n",
    b"",
    b"From: =?utf-8?q?caf=C3=A9?= <x@y.test>, \"Doe, John\" <j@d.test>, grp: a@b.test, c@d.test;\r\n"
    b"Subject: =?UTF-8?B?SGVsbG8g?= =?UTF-8?B?d29ybGQ=?= =?iso-8859-1?Q?caf=E9?=\r\n"
    b"Date: Tue, 09 Jan 2024 02:31:35 +0900\r\nMessage-ID: <a@b>\r\nReferences: <r@x> <s@y>\r\n\r\nx",
    b"Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\npre\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: quoted-printable\r\n\r\ncaf=C3=A9 =\r\nau lait\r\n--b\r\n"
    b"Content-Type: application/pdf; name=\"a.pdf\"\r\nContent-Disposition: attachment; "
    b"filename*0*=utf-8''R%C3%A9; filename*1*=sum%C3%A9.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    b"JVBERi0xLjQK\r\n--b--\r\nepilogue\r\n",
    b"Content-Type: multipart/alternative; boundary=x\n\n--x\nContent-Type: text/plain\n\nplain\n--x\n"
    b"Content-Type: multipart/related; boundary=y; start=\"<h@x>\"\n\n--y\nContent-Type: text/html\nContent-ID: <h@x>\n\n"
    b"<img src=cid:i@x>\n--y\nContent-Type: image/png\nContent-ID: <i@x>\nContent-Transfer-Encoding: base64\n\niVBORw==\n--y--\n--x--\n",
    b"Content-Type: message/rfc822\r\n\r\nSubject: inner\r\nContent-Type: multipart/mixed; boundary=i\r\n\r\n"
    b"--i\r\n\r\ninner text\r\n--i\r\nContent-Type: application/zip; name=z.zip\r\n\r\nPK\r\n--i--\r\n",
    b"Content-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\nU3ViamVjdDogaW5uZXIKCmhlbGxvCg==\n",
    b"Content-Type: multipart/digest; boundary=d\n\n--d\n\nSubject: one\n\nbody1\n--d\n\nSubject: two\n\nbody2\n--d--\n",
    b"Content-Type: multipart/mixed; boundary=zz\n\n--zz\n\nfirst\n--zz\n\nsecond without close\n",
    b"Content-Type: multipart/mixed\n\nno boundary parameter\n",
    b"Content-Type: multipart/mixed; boundary=ab\n\n--ab  \t\nContent-Type: multipart/alternative; boundary=abc\n\n"
    b"--abc\n\ninner\n--abc--\n--ab--\n",
    b"Content-Type: multipart/report; report-type=delivery-status; boundary=r\r\n\r\n--r\r\n\r\nbounce\r\n"
    b"--r\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.test\r\n\r\nAction: failed\r\n"
    b"--r\r\nContent-Type: text/rfc822-headers\r\n\r\nSubject: original\r\n--r--\r\n",
    b"Content-Type: text/plain; charset=shift_jis\r\nContent-Transfer-Encoding: base64\r\n\r\nk/qWe4zq\r\n",
    b"Content-Type: text/plain; charset=utf-7\r\n\r\nHi Mom -+Jjo--!\r\n",
    b"Content-Type: text/plain; charset=iso-2022-jp\r\n\r\n\x1b$BF|K\\\x1b(B\r\n",
    b"Content-Type: text/plain; charset=x-unknown-charset\r\n\r\ncaf\xe9\r\n",
    b"Content-Type: text/plain; charset=us-ascii\r\n\r\n8bit \xe9 in ascii\r\n",
    b"Content-Type: application/octet-stream; name=c.txt\nContent-Transfer-Encoding: x-uuencode\n\n"
    b"begin 644 c.txt\n#0V%T\n`\nend\n",
    b"Content-Transfer-Encoding: base64\n\nYWJj*ZA==extra\n",
    b"Content-Transfer-Encoding: quoted-printable\n\nbad =ZZ escape=\nsoft=3D\n",
    b"Authentication-Results: mx.test; spf=pass (ok) smtp.mailfrom=a@x.test; dkim=fail header.d=x;"
    b" dmarc=none; arc=pass\r\nAuthentication-Results: relay.example 1; none\r\n\r\nb",
    b"Subject : obsolete\r\n       \r\n folding\r\nInval\xecd-Header: x\r\nDate    :  Malformed\r\n\r\nbody",
    b"From someone Sat Jan  1 00:00:00 2024\nSubject: mbox\n\nbody\n",
    b"Subject: nul \x00 byte\r\n\r\nbody\x00",
    b"Subject: =?utf-8?Q?Hello\r\n _there!?= [SPAM]=?utf-8?B?VGhpcw==?=\r\n\r\n",
    b"Content-Type: text/plain; name=my file(1).txt; charset=us-ascii (Plain text)\r\n\r\nx",
    b"To: undisclosed-recipients:;\r\nCc: Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>\r\n\r\n",
    b"Content-Type: multipart/mixed; boundary=o\n\n--o\nContent-Type: multipart/mixed; boundary=i\n\n--i\n\ntext\n"
    b"--o\nContent-Type: image/png\n\nPNG\n--o--\n",
    b"\x01Content-Type: multipart/mixed; boundary=a\n\n--a\nContent-Type: multipart/mixed; boundary=b\n\n--b\n"
    b"Content-Type: multipart/mixed; boundary=c\n\n--c\nContent-Type: multipart/mixed; boundary=d\n\n--d\n\nx\n--d--\n--c--\n--b--\n--a--\n",
    b"\x06Content-Type: multipart/mixed; boundary=q\n\n--q\nContent-Type: text/csv; name=a.csv\n"
    b"Content-Transfer-Encoding: quoted-printable\n\nid,name\n1,x\n--q--\n",
]


def main():
    for target in ("mime_parse_fuzz", "mime_json_fuzz"):
        out = os.path.join(ROOT, "fuzz", "corpus", target)
        os.makedirs(out, exist_ok=True)
        for s in SEEDS:
            name = hashlib.sha256(s).hexdigest()
            with open(os.path.join(out, name), "wb") as f:
                f.write(s)
    print("wrote %d seeds per target" % len(SEEDS))


if __name__ == "__main__":
    main()
