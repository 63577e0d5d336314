#!/usr/bin/env bash
# The jetserve API from a shell through server reflection: no .proto files, no stubs.
# Uses grpcurl when it is installed, else grpc_reflect.py beside this script (Python,
# grpcio + grpcio-reflection from PyPI), which takes the same kind of commands.
#
#   examples/shell/reflection.sh [HOST:PORT] [GENERATOR_MODEL] [EMBEDDING_MODEL]
set -euo pipefail
target="${1:-localhost:50051}"
generator="${2:-smollm2}"
embedder="${3:-}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

if command -v grpcurl >/dev/null; then
  list() { grpcurl -plaintext "$target" list; }
  describe() { grpcurl -plaintext "$target" describe "$1"; }
  call() { grpcurl -plaintext -d "$2" "$target" "$1"; }
else
  list() { python3 "$here/grpc_reflect.py" "$target" list; }
  describe() { python3 "$here/grpc_reflect.py" "$target" describe "$1"; }
  call() { python3 "$here/grpc_reflect.py" "$target" call "$1" "$2"; }
fi

echo "== services"
list
echo "== jetserve.v1.Jetserve"
describe jetserve.v1.Jetserve
echo "== ListModels"
call jetserve.v1.Jetserve/ListModels '{}'
echo "== Generate (streamed: one message per line)"
call jetserve.v1.Jetserve/Generate \
  "{\"model\": \"$generator\", \"prompt\": \"Jetson devices are\", \"sampling\": {\"temperature\": 0}, \"stop\": {\"maxTokens\": 8}}"
if [ -n "$embedder" ]; then
  echo "== Embed"
  call jetserve.v1.Jetserve/Embed "{\"model\": \"$embedder\", \"inputs\": [\"a cat\", \"a kitten\"]}"
fi
echo "== health"
call grpc.health.v1.Health/Check '{}'
