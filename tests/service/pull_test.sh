#!/usr/bin/env bash
# `jetserve pull` against a local HTTP server with Range support (range_http_server.py):
# a full download, resume of a truncated .part, --sha256 and ETag / X-Linked-ETag (hub
# redirect) mismatches (precise error, nothing left in place), 404, bad URLs. Nothing leaves 127.0.0.1.
set -uo pipefail

bin="${JETSERVE_BINARY_DIR:?run through ctest}/bin/jetserve"
here="$(cd "$(dirname "$0")" && pwd)"
tmp="$(mktemp -d /tmp/jetserve-pull.XXXXXX)"
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null; wait "$server_pid" 2>/dev/null; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
expect_eq() { [ "$1" = "$2" ] || fail "$3: got \"$1\", want \"$2\""; }
expect_contains() { case "$1" in *"$2"*) ;; *) fail "$3: \"$1\" lacks \"$2\"";; esac; }

mkdir -p "$tmp/srv/org" "$tmp/cache"
head -c 3000000 /dev/urandom > "$tmp/srv/org/model.gguf"
cp "$tmp/srv/org/model.gguf" "$tmp/srv/org/lying-model.gguf"
sha="$(sha256sum "$tmp/srv/org/model.gguf" | cut -d' ' -f1)"

python3 "$here/range_http_server.py" "$tmp/srv" "$tmp/port" "$tmp/requests.log" &
server_pid=$!
for _ in $(seq 100); do [ -f "$tmp/port" ] && break; sleep 0.1; done
[ -f "$tmp/port" ] || { echo "FAIL: the test server did not start" >&2; exit 1; }
base="http://127.0.0.1:$(cat "$tmp/port")"

# 1. A full download, checked against --sha256 and the server's ETag; path on stdout.
out="$("$bin" pull "$base/org/model.gguf" --dir "$tmp/cache" --sha256 "$sha" 2>"$tmp/err")"
expect_eq "$?" 0 "full pull exit code ($(cat "$tmp/err"))"
expect_eq "$out" "$tmp/cache/model.gguf" "full pull prints the path"
expect_eq "$(sha256sum < "$tmp/cache/model.gguf" | cut -d' ' -f1)" "$sha" "full pull content"
expect_contains "$(cat "$tmp/err")" "pulling model.gguf" "progress on stderr"
[ -e "$tmp/cache/model.gguf.part" ] && fail "the .part file is left after a full pull"

# 2. Already there: nothing is fetched again.
before="$(wc -l < "$tmp/requests.log")"
"$bin" pull "$base/org/model.gguf" --dir "$tmp/cache" --sha256 "$sha" >/dev/null 2>&1
expect_eq "$?" 0 "second pull exit code"
expect_eq "$(wc -l < "$tmp/requests.log")" "$before" "second pull makes no request"

# 3. Resume: a truncated .part completes with a Range request.
mkdir -p "$tmp/resume"
head -c 1234567 "$tmp/srv/org/model.gguf" > "$tmp/resume/model.gguf.part"
"$bin" pull "$base/org/model.gguf" --dir "$tmp/resume" 2>"$tmp/err" >/dev/null
expect_eq "$?" 0 "resume exit code ($(cat "$tmp/err"))"
expect_eq "$(sha256sum < "$tmp/resume/model.gguf" | cut -d' ' -f1)" "$sha" "resumed content"
expect_contains "$(tail -1 "$tmp/requests.log")" "range=bytes=1234567-" "resume sends Range"

# 4. --sha256 mismatch: a precise error, exit 1, no file (and no .part) left.
mkdir -p "$tmp/bad"
wrong="0000000000000000000000000000000000000000000000000000000000000000"
"$bin" pull "$base/org/model.gguf" --dir "$tmp/bad" --sha256 "$wrong" 2>"$tmp/err" >/dev/null
expect_eq "$?" 1 "sha256 mismatch exit code"
expect_contains "$(cat "$tmp/err")" "sha256 mismatch for $base/org/model.gguf: --sha256 says $wrong, the download has $sha; removed the download" "sha256 mismatch message"
[ -n "$(ls -A "$tmp/bad")" ] && fail "files left after a sha256 mismatch: $(ls -A "$tmp/bad")"

# 5. The server's ETag disagrees with the content.
"$bin" pull "$base/org/lying-model.gguf" --dir "$tmp/bad" 2>"$tmp/err" >/dev/null
expect_eq "$?" 1 "ETag mismatch exit code"
expect_contains "$(cat "$tmp/err")" "the server's ETag says" "ETag mismatch message"
[ -n "$(ls -A "$tmp/bad")" ] && fail "files left after an ETag mismatch: $(ls -A "$tmp/bad")"

# 6. A hub-style redirect: the X-Linked-ETag of the 302 is checked, a non-SHA ETag ignored.
mkdir -p "$tmp/hub"
"$bin" pull "$base/resolve/org/model.gguf" --dir "$tmp/hub" 2>"$tmp/err" >/dev/null
expect_eq "$?" 0 "redirected pull exit code ($(cat "$tmp/err"))"
expect_eq "$(sha256sum < "$tmp/hub/model.gguf" | cut -d' ' -f1)" "$sha" "redirected content"
"$bin" pull "$base/resolve/org/lying-model.gguf" --dir "$tmp/bad" 2>"$tmp/err" >/dev/null
expect_eq "$?" 1 "X-Linked-ETag mismatch exit code"
expect_contains "$(cat "$tmp/err")" "the server's ETag says" "X-Linked-ETag mismatch message"
[ -n "$(ls -A "$tmp/bad")" ] && fail "files left after an X-Linked-ETag mismatch: $(ls -A "$tmp/bad")"

# 7. 404.
"$bin" pull "$base/org/missing.gguf" --dir "$tmp/bad" 2>"$tmp/err" >/dev/null
expect_eq "$?" 1 "404 exit code"
expect_contains "$(cat "$tmp/err")" "jetserve pull: HTTP 404 from $base/org/missing.gguf" "404 message"
[ -n "$(ls -A "$tmp/bad")" ] && fail "files left after a 404: $(ls -A "$tmp/bad")"

# 8. Usage errors (exit 2), without any request.
"$bin" pull "ftp://x/y.gguf" 2>"$tmp/err" >/dev/null
expect_eq "$?" 2 "bad scheme exit code"
expect_contains "$(cat "$tmp/err")" "expected an http(s):// URL or hf://ORG/REPO/FILE" "bad scheme"
"$bin" pull "hf://org-only" 2>"$tmp/err" >/dev/null
expect_eq "$?" 2 "bad hf:// exit code"
expect_contains "$(cat "$tmp/err")" "expected hf://ORG/REPO/FILE" "bad hf://"
"$bin" pull "$base/org/model.gguf" --sha256 abc 2>"$tmp/err" >/dev/null
expect_eq "$?" 2 "bad --sha256 exit code"
expect_contains "$(cat "$tmp/err")" "is not 64 hex digits" "bad --sha256"

if [ "$failures" -ne 0 ]; then echo "$failures check(s) failed" >&2; exit 1; fi
echo "pull_test: all checks passed"
