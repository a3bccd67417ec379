"""tests/support/vector_file.py — the command line the botocore vector generators share
(tests/aws/botocore_vectors.py, tests/events/msk_iam_vectors.py): `--write FILE` writes what
the generator produces; `--check FILE` compares it with the committed file and prints a
unified diff when botocore now answers differently. Trust: test tooling only."""
import difflib
import json
import sys


def run(argv, generate, usage, what, library_version):
    """argv: sys.argv; generate(): the JSON text; what: the noun for the ok line."""
    if len(argv) != 3 or argv[1] not in ("--write", "--check"):
        print(usage, file=sys.stderr)
        return 2
    text = generate()
    if argv[1] == "--write":
        with open(argv[2], "w") as f:
            f.write(text)
        return 0
    with open(argv[2]) as f:
        committed = f.read()
    if committed != text:
        sys.stdout.writelines(difflib.unified_diff(committed.splitlines(True), text.splitlines(True),
                                                   "committed", f"botocore {library_version}"))
        print(f"FAIL: {argv[2]} differs from what botocore {library_version} generates; "
              "review the diff and rerun with --write", file=sys.stderr)
        return 1
    print(f"ok: {len(json.loads(text)['vectors'])} {what} match botocore {library_version}")
    return 0
