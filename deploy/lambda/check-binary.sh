#!/usr/bin/env bash
# deploy/lambda/check-binary.sh BINARY [--allow LIB]... — does this mxgate-lambda run on the
# Lambda `provided.al2023` runtime (Amazon Linux 2023: glibc 2.34, GCC 11's libgcc_s,
# OpenSSL 3)? Checks, with objdump/readelf (binutils):
#   - no dynamic symbol needs a GLIBC version newer than 2.34;
#   - no GLIBCXX/CXXABI version at all (libstdc++ is linked statically);
#   - every NEEDED library is one Amazon Linux 2023 has (plus those given with --allow).
# Prints what it found; exits 1 on the first rule broken. Used by build.sh and tests/deploy.
set -euo pipefail
bin=${1:?usage: check-binary.sh BINARY [--allow LIB]...}
shift
allowed=(libc.so.6 libm.so.6 libgcc_s.so.1 libssl.so.3 libcrypto.so.3 ld-linux-x86-64.so.2
         libpthread.so.0 libdl.so.2 librt.so.1)
while [ $# -gt 0 ]; do
  case $1 in
    --allow) allowed+=("$2"); shift 2 ;;
    *) echo "check-binary.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
status=0
glibc=$(objdump -T "$bin" | grep -o 'GLIBC_[0-9][0-9.]*' | sort -uV | tail -1)
echo "highest GLIBC version needed: ${glibc:-none}"
if [ -n "$glibc" ] && [ "$(printf '%s\nGLIBC_2.34\n' "$glibc" | sort -V | tail -1)" != "GLIBC_2.34" ]; then
  echo "FAIL: needs $glibc; Amazon Linux 2023 has GLIBC_2.34" >&2
  objdump -T "$bin" | grep -E 'GLIBC_2\.(3[5-9]|[4-9][0-9])' >&2 || true
  status=1
fi
cxx=$(objdump -T "$bin" | grep -o 'GLIBCXX_[0-9.]*\|CXXABI_[0-9.]*' | sort -uV | tr '\n' ' ' || true)
if [ -n "$cxx" ]; then
  echo "FAIL: needs libstdc++ symbol versions ($cxx): link it statically" >&2
  status=1
fi
needed=$(readelf -d "$bin" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
echo "NEEDED: $(echo "$needed" | tr '\n' ' ')"
for lib in $needed; do
  ok=0
  for a in "${allowed[@]}"; do [ "$lib" = "$a" ] && ok=1; done
  if [ $ok = 0 ]; then
    echo "FAIL: $lib is not on Amazon Linux 2023 (provided.al2023)" >&2
    status=1
  fi
done
exit $status
