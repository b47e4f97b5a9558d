"""Validate real answers of the REST API against the OpenAPI document.

Usage: validate_responses.py OPENAPI.json ANSWERS.json, where ANSWERS is a
JSON list of {"method": "GET", "path": "/api/v1/machines/{host}",
"status": 200, "body": ...}, the path spelled as the document spells it.
Each body is checked against the schema the document declares for that
method, path and status (application/json), with JSON Schema 2020-12 (the
dialect of OpenAPI 3.1) and its format checks. Prints every mismatch and
exits 1 if there is one; an answer whose response declares no schema is a
mismatch too.
"""

import json
import sys

import jsonschema


def main() -> int:
    doc = json.load(open(sys.argv[1]))
    answers = json.load(open(sys.argv[2]))
    failures = []
    for a in answers:
        where = f'{a["method"]} {a["path"]} -> {a["status"]}'
        op = doc["paths"].get(a["path"], {}).get(a["method"].lower())
        if op is None:
            failures.append(f"{where}: not in the document")
            continue
        response = op.get("responses", {}).get(str(a["status"]))
        if response is None:
            failures.append(f"{where}: the document declares no such status")
            continue
        schema = response.get("content", {}).get("application/json", {}).get("schema")
        if schema is None:
            failures.append(f"{where}: the document declares no JSON schema for it")
            continue
        root = dict(schema)
        root["components"] = doc.get("components", {})
        validator = jsonschema.Draft202012Validator(
            root, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
        )
        for error in validator.iter_errors(a["body"]):
            at = "/".join(str(p) for p in error.absolute_path)
            failures.append(f"{where}: at /{at}: {error.message[:300]}")
    for f in failures:
        print(f)
    print(f"{len(answers)} answers checked, {len(failures)} mismatches")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
