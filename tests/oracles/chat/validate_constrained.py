#!/usr/bin/env python3
"""Validates constrained outputs with Python's jsonschema (PyPI): each line of the file is
{"schema", "output"}; each output must parse as JSON and validate against its schema, with
formats asserted (date, time, date-time, uuid: jsonschema's FormatChecker; date-time and time
need the rfc3339-validator package). Files:
  build/structured_outputs.jsonl   worker/structured_output_test (ctest runs this script on
                                   it: structured_output_jsonschema)
  build/constrained_outputs.jsonl  engine/runtime/grammar_constraint_test

Run:  pip install -r tests/requirements.txt
      ctest --test-dir build -R structured_output
      python3 tests/oracles/chat/validate_constrained.py build/constrained_outputs.jsonl
"""
import importlib.metadata
import json
import sys

import jsonschema


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else "build/constrained_outputs.jsonl"
    checker = jsonschema.FormatChecker()
    for fmt in ("date", "time", "date-time", "uuid"):
        if fmt not in checker.checkers:
            print(f"jsonschema cannot check format {fmt!r} (rfc3339-validator missing?)",
                  file=sys.stderr)
            sys.exit(1)
    total = bad = 0
    with open(path, encoding="utf-8") as f:
        for line in f:
            rec = json.loads(line)
            total += 1
            try:
                jsonschema.validate(json.loads(rec["output"]), rec["schema"],
                                    format_checker=checker)
            except (ValueError, jsonschema.ValidationError) as e:
                bad += 1
                print(f"INVALID: {rec['output']!r}: {e}", file=sys.stderr)
    print(f"{total - bad}/{total} outputs parse and validate with jsonschema "
          f"{importlib.metadata.version('jsonschema')}")
    sys.exit(1 if bad or total == 0 else 0)


if __name__ == "__main__":
    main()
