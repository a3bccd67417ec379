#!/usr/bin/env python3
"""fuzz/smtp/make_seeds.py — builds the seed corpora of the SMTP fuzz targets.

smtp_session_fuzz: one seed per transcript in tests/smtp/transcripts (client bytes cut at
the transcript's sync points, scripted driver answers as 0xFF-prefixed answer bytes that
name their stage, events as control bytes; questions a transcript does not script are
accepted by the fuzz driver; layout in fuzz/smtp/README.md). smtp_alphabet_fuzz: a few symbol sequences that walk the main paths.
Seeds are named by the SHA-256 of their content (nghttp2's convention), so rerunning the
script only adds files. Usage: python3 fuzz/smtp/make_seeds.py [repo-root]

Trust: reads our own transcripts; writes only under fuzz/corpus/smtp_*_fuzz/.
"""
import hashlib
import os
import re
import sys

ROOT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..")
TRANSCRIPTS = os.path.join(ROOT, "tests", "smtp", "transcripts")
ALPHABET_SRC = os.path.join(ROOT, "fuzz", "smtp", "smtp_alphabet_fuzz.cc")
DRIVER_SRC = os.path.join(ROOT, "fuzz", "smtp", "fuzz_driver.h")
OUT_SESSION = os.path.join(ROOT, "fuzz", "corpus", "smtp_session_fuzz")
OUT_ALPHABET = os.path.join(ROOT, "fuzz", "corpus", "smtp_alphabet_fuzz")


def expand_repeats(s):
    return re.sub(r"\{\{(\d+)\*(.*?)\}\}", lambda m: m.group(2) * int(m.group(1)), s)


def unescape(s):
    out = bytearray()
    raw = s.encode("utf-8")
    i = 0
    while i < len(raw):
        c = raw[i]
        if c != 0x5C:  # backslash
            out.append(c)
            i += 1
            continue
        e = chr(raw[i + 1])
        i += 2
        if e == "x":
            out.append(int(raw[i:i + 2], 16))
            i += 2
        else:
            out.extend({"r": b"\r", "n": b"\n", "t": b"\t", "0": b"\0", "\\": b"\\"}[e])
    return bytes(out)


def option_bytes(opts):
    def flag(name, default=False):
        return opts.get(name, "true" if default else "false") == "true"

    a = 0
    a |= 0x01 if flag("starttls_available") else 0
    a |= 0x02 if flag("tls_active") else 0
    a |= 0x04 if flag("require_tls") else 0
    a |= 0x08 if flag("auth_available") else 0
    a |= 0x10 if flag("auth_plaintext_allowed") else 0
    a |= 0x20 if flag("auth_required") else 0
    a |= 0x40 if not flag("chunking", True) else 0
    a |= 0x80 if not flag("smtputf8", True) else 0
    b = 0
    size = int(opts.get("max_message_size", 52428800))
    b |= 0 if size >= 1000 else 3 if size == 0 else 1 if size >= 100 else 2
    rcpt = int(opts.get("max_recipients", 100))
    b |= (rcpt if rcpt in (1, 2, 3) else 0) << 2
    errs = int(opts.get("max_errors", 10))
    b |= (1 if errs == 1 else 2 if errs in (2, 3) else 0) << 4
    b |= 0x40 if int(opts.get("max_line_length", 1 << 20)) < 1000 else 0
    b |= 0x80 if int(opts.get("max_messages", 0)) == 1 else 0
    return bytes([a, b])


STAGES = {"connect": 0, "helo": 1, "mail": 2, "rcpt": 3, "auth": 4, "commit": 5}
# The short refusal words of the transcripts, per stage (tests/smtp/transcript.cc).
SHORT = {("rcpt", "reject"): "RecipientPermFail", ("rcpt", "temp"): "RecipientTempFail",
         ("auth", "fail"): "AuthFailed", ("auth", "temp"): "AuthTempFail",
         ("commit", "temp"): "CommitTempFail", ("commit", "perm"): "CommitPermFail"}


def refusal_names():
    src = open(DRIVER_SRC, encoding="utf-8").read()
    body = src[src.index("kRefusals[] = {"):src.index("};", src.index("kRefusals[] = {"))]
    return re.findall(r"ReplyId::k(\w+)", body)


def answer_bytes(stage, rest):
    """0xFF, (code << 5 | v): v = 0 accepts, v = i + 1 refuses with refusalChoice(i)."""
    words = rest.split()
    word = words[0] if words else "accept"
    if word in ("accept", "ok"):
        v = 0
    else:
        name = words[1] if word == "refuse" else SHORT[(stage, word)]
        names = refusal_names()
        v = names.index(name) + 1 if name in names else 1
    return [0xFF, (STAGES[stage] << 5) | v]


def session_seed(text):
    opts = {}
    client = bytearray()
    control = bytearray()
    seg = bytearray()
    answers = bytearray()

    def close_segment(sync_bytes):
        nonlocal seg, answers
        if seg:
            n = len(seg) - 1
            control.extend([0x80, (n >> 8) & 0xFF, n & 0xFF])
            client.extend(seg)
        control.extend(answers)
        control.extend(sync_bytes)
        seg = bytearray()
        answers = bytearray()

    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        if line.startswith("C:") or line.startswith("R:"):
            payload = unescape(expand_repeats(line[3:]))
            seg.extend(payload + (b"\r\n" if line[0] == "C" else b""))
        elif line.startswith("@"):
            parts = line[1:].split(" ", 2)
            d = parts[0]
            if d == "option":
                opts[parts[1]] = parts[2] if len(parts) > 2 else ""
            elif d in STAGES:
                answers.extend(answer_bytes(d, " ".join(parts[1:])))
            elif d == "tls":
                close_segment([0xFF, (6 << 5) | (0 if parts[1] == "ok" else 1)])
            elif d == "timeout":
                close_segment([0xE2])
            elif d == "eof":
                close_segment([0xE1])
            elif d == "shutdown":
                close_segment([0xE0])
            elif d == "timer":
                close_segment([0xC0])
            elif d == "sync":
                close_segment([])
    close_segment([])
    if len(client) > 0xFFFF:
        return None
    return option_bytes(opts) + bytes([len(client) >> 8, len(client) & 0xFF]) + bytes(client) + bytes(control)


def alphabet_symbols():
    src = open(ALPHABET_SRC, encoding="utf-8").read()
    body = src[src.index("kAlphabet[] = {"):src.index("};", src.index("kAlphabet[] = {"))]
    symbols = []
    for m in re.finditer(r'\{(k\w+), (?:"((?:[^"\\]|\\.)*)"|std::string_view\("\\0", 1\))\}', body):
        symbols.append((m.group(1), m.group(2)))
    return symbols


def alphabet_seeds():
    syms = alphabet_symbols()

    def idx(kind, text=""):
        for i, (k, t) in enumerate(syms):
            if k == kind and (t or "") == text:
                return i
        raise KeyError((kind, text))

    def T(text):
        return idx("kText", text)

    F = idx("kFlush")
    ok = 0xF0  # kAnswerBase: accept; 0xF0 + n refuses (smtp_alphabet_fuzz.cc)
    ehlo = T(r"EHLO c.example\r\n")
    mail = T(r"MAIL FROM:<a@b.example>\r\n")
    rcpt = T(r"RCPT TO:<r@d.example>\r\n")
    seqs = [
        [ehlo, mail, rcpt, F, ok, T(r"DATA\r\n"), T("Subject: hello world"), T(r"\r\n"), T(".."),
         T(r"\r\n"), T(r"\r\n.\r\n"), F, ok, T(r"QUIT\r\n"), F],
        [ehlo, mail, rcpt, F, ok, T("BDAT "), T("7"), T(r"\r\n"), T("Subject: hello world"), F,
         T("BDAT "), T("0"), T(" LAST"), T(r"\r\n"), F, ok, F],
        [ehlo, T(r"AUTH PLAIN AHVzZXIAc2VjcmV0\r\n"), F, ok, mail, F, T(r"AUTH LOGIN\r\n"),
         T(r"dXNlcg==\r\n"), T(r"c2VjcmV0\r\n"), F, ok + 5, T(r"*\r\n"), F],
        [ehlo, T(r"STARTTLS\r\n"), mail, F, ok, ehlo, mail, rcpt, F, ok + 1, F],
        [ehlo, F, ok + 2, ehlo, mail, F, ok + 3, mail, rcpt, F, ok, ok + 4, F],
        [ehlo, mail, rcpt, F, T(r"DATA\r\n"), T("x"), T(r"\r\n.\n"), T(r"\n."), mail,
         T(r"\r\n.\r\n"), F, ok + 6, T(r"BDAT -1\r\n"), F],
        [ehlo, mail, rcpt, F, ok, T(r"DATA\r\n"), T("x"), T(r"\n.\n"), mail, rcpt,
         T(r"\r\n.\r\n"), F, ok, F],
        [ehlo, idx("kLongLine"), T(r"\r\n"), T(r"NOOP\r\n"), F, idx("kTimer"), idx("kDeadline")],
    ]
    opts = [bytes([0x00, 0x00]), bytes([0x0B, 0x01]), bytes([0x19, 0x45]), bytes([0x01, 0x00])]
    out = []
    for s in seqs:
        for o in opts:
            out.append(o + bytes(s))
    return out


def write(dirpath, data):
    os.makedirs(dirpath, exist_ok=True)
    name = hashlib.sha256(data).hexdigest()
    path = os.path.join(dirpath, name)
    if not os.path.exists(path):
        with open(path, "wb") as f:
            f.write(data)
        return 1
    return 0


def main():
    added = 0
    n = 0
    for fn in sorted(os.listdir(TRANSCRIPTS)):
        if not fn.endswith(".txt"):
            continue
        seed = session_seed(open(os.path.join(TRANSCRIPTS, fn), encoding="utf-8").read())
        if seed is not None:
            added += write(OUT_SESSION, seed)
            n += 1
    for seed in alphabet_seeds():
        added += write(OUT_ALPHABET, seed)
        n += 1
    print(f"{n} seeds, {added} new")


if __name__ == "__main__":
    main()
