# Shared shell functions: openapi-spec-validator (pip, into
# .peers/openapi/), the independent validator the API tests check the
# generated OpenAPI 3.1 document with. Not a server: install_openapi_validator
# sets OPENAPI_VALIDATOR to a wrapper script that validates one file.
# Source after setting REPO_ROOT.
# shellcheck shell=bash

OPENAPI_ROOT="${OPENAPI_ROOT:-$REPO_ROOT/.peers/openapi}"

install_openapi_validator() {
    mkdir -p "$OPENAPI_ROOT"
    if [ ! -f "$OPENAPI_ROOT/lib/openapi_spec_validator/__init__.py" ]; then
        echo "Installing openapi-spec-validator into $OPENAPI_ROOT/lib (once)"
        python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
            --target "$OPENAPI_ROOT/lib" 'openapi-spec-validator>=0.7,<0.8'
    fi
    OPENAPI_VALIDATOR="$OPENAPI_ROOT/validate"
    cat >"$OPENAPI_VALIDATOR" <<SH
#!/bin/sh
# Validate one OpenAPI document (3.0 or 3.1, detected from the file).
PYTHONPATH="$OPENAPI_ROOT/lib" exec python3 -m openapi_spec_validator "\$@"
SH
    chmod +x "$OPENAPI_VALIDATOR"
    # Real answers of the API against the schemas the document declares
    # for them (JSON Schema 2020-12, OpenAPI 3.1's dialect, with the
    # jsonschema package openapi-spec-validator brings).
    OPENAPI_RESPONSE_VALIDATOR="$OPENAPI_ROOT/validate-responses"
    cat >"$OPENAPI_RESPONSE_VALIDATOR" <<SH
#!/bin/sh
# validate-responses OPENAPI.json ANSWERS.json: ANSWERS is a list of
# {"method", "path" (as the document spells it), "status", "body"}.
PYTHONPATH="$OPENAPI_ROOT/lib" exec python3 "$REPO_ROOT/scripts/lib/validate_responses.py" "\$@"
SH
    chmod +x "$OPENAPI_RESPONSE_VALIDATOR"
}
