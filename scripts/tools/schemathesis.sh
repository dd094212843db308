#!/usr/bin/env bash
# Installs schemathesis (PyPI, pinned) into a virtualenv under ~/.cache/auditor-tools/ and
# prints the path of its `st` command. Used by the tick API's OpenAPI test
# (tests/integration/openapi_test.sh) and scripts/test.sh. Idempotent; instant once installed.
set -euo pipefail
version=4.32.5
cache="${AUDITOR_TOOLS_CACHE:-$HOME/.cache/auditor-tools}"
venv="$cache/schemathesis-$version"
if [[ -f "$venv/.complete" ]]; then
  echo "$venv/bin/st"
  exit 0
fi
rm -rf "$venv"
# Debian's python3 needs python3-venv (scripts/install-deps.sh) for this.
python3 -m venv "$venv" >&2
"$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$version" >&2
"$venv/bin/st" --version >&2
touch "$venv/.complete"
echo "$venv/bin/st"
