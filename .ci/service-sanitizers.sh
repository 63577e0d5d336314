#!/usr/bin/env bash
# Manual job (not in tests/run.sh: it costs more than CI's budget leaves): builds the
# gateway, the worker and their tests with AddressSanitizer + UndefinedBehaviorSanitizer
# (gcc, float-cast-overflow too, as the engine job) and runs the service tests (gateway_*,
# worker_*, rpc_*). Every process the tests start (gateway, fake and real workers) is
# sanitized too; their reports go to files in $SAN_LOG_DIR, and any report fails the job
# even when the test that started the process passed.
#
#   .ci/service-sanitizers.sh        # build-asan-svc/; JOBS=N to build with N jobs
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
jobs="${JOBS:-$(nproc)}"
cmake -S . -B build-asan-svc -G Ninja -DCMAKE_BUILD_TYPE=Debug -DJETSERVE_SERVICE=ON \
  -DJETSERVE_CUDA=OFF -DJETSERVE_BENCHMARKS=OFF -DJETSERVE_WERROR=ON \
  -DJETSERVE_SANITIZE=address,undefined,float-cast-overflow
targets=(gateway_config_test gateway_router_test gateway_auth_test gateway_http_api_test
  rpc_checked_request_test worker_test worker_telemetry_test worker_server_test
  worker_process_test worker_batching_test gateway_routing_test gateway_limits_test
  gateway_supervision_test gateway_remote_test gateway_scale_test gateway_security_test
  gateway_request_limits_test gateway_lifecycle_test gateway_fault_test
  jetserve-gateway jetserve-fake-worker jetserve-worker)
cmake --build build-asan-svc -j "$jobs" --target "${targets[@]}"
SAN_LOG_DIR="${SAN_LOG_DIR:-$(mktemp -d)}"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:log_path=$SAN_LOG_DIR/asan"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$SAN_LOG_DIR/ubsan"
status=0
ctest --test-dir build-asan-svc --output-on-failure -j "$jobs" -R '^(gateway_|worker_|rpc_)' \
  -E '_bench' || status=1
if compgen -G "$SAN_LOG_DIR/*" > /dev/null; then
  echo "sanitizer reports in $SAN_LOG_DIR:" >&2
  cat "$SAN_LOG_DIR"/* >&2
  status=1
fi
exit "$status"
