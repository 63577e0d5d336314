#!/usr/bin/env bash
# Installs the Python client (clients/python, stubs generated from proto/ by grpcio-tools)
# into a folder under the build tree, then runs the client tests (pytest) against a real
# gateway + workers. Called by ctest (python_client_test) with JETSERVE_SOURCE_DIR and
# JETSERVE_BINARY_DIR set.
set -euo pipefail
src="${JETSERVE_SOURCE_DIR:?run through ctest}"
bin="${JETSERVE_BINARY_DIR:?run through ctest}"
work="$bin/python-client"
rm -rf "$work" && mkdir -p "$work"
# Build from a copy so the source tree gets no build/ or egg-info folders.
cp -r "$src/clients/python" "$work/src"
JETSERVE_PROTO_DIR="$src/proto" python3 -m pip install -q --no-deps --no-build-isolation \
  --disable-pip-version-check --target "$work/site" "$work/src" 2>&1 | grep -v "WARNING: Running pip as" || true
test -f "$work/site/jetserve/v1/service_pb2_grpc.py"
cd "$src/tests/clients"
PYTHONPATH="$work/site" exec python3 -m pytest -q -p no:cacheprovider "$@" .
