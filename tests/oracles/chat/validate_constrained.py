#!/usr/bin/env python3
"""Validates the constrained outputs written by engine/runtime/grammar_constraint_test
($JETSERVE_BINARY_DIR/constrained_outputs.jsonl: one {"schema", "output"} per line) with
Python's jsonschema (PyPI): each output must parse as JSON and validate against its schema.

Run:  /work/cache/jinja-venv/bin/pip install jsonschema
      ctest --test-dir build -R grammar_constraint_test
      /work/cache/jinja-venv/bin/python tests/oracles/chat/validate_constrained.py \
          build/constrained_outputs.jsonl
"""
import importlib.metadata
import json
import sys

import jsonschema


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else "build/constrained_outputs.jsonl"
    total = bad = 0
    with open(path, encoding="utf-8") as f:
        for line in f:
            rec = json.loads(line)
            total += 1
            try:
                jsonschema.validate(json.loads(rec["output"]), rec["schema"])
            except (ValueError, jsonschema.ValidationError) as e:
                bad += 1
                print(f"INVALID: {rec['output']!r}: {e}", file=sys.stderr)
    print(f"{total - bad}/{total} outputs parse and validate with jsonschema {importlib.metadata.version('jsonschema')}")
    sys.exit(1 if bad or total == 0 else 0)


if __name__ == "__main__":
    main()
