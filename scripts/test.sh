#!/usr/bin/env bash
# Installs dependencies, builds, starts the local Kafka if none runs, and runs every test
# (unit, integration, robustness, deploy), then each fuzz target briefly (scripts/fuzz.sh, its own
# build in build-fuzz/; AUDITOR_CI_FUZZ_SECONDS per target, default 15). The `bench` label
# is left out: run it with `ctest --test-dir build -L bench`.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
started=$(date +%s)
bash "$root/scripts/install-deps.sh"
bash "$root/scripts/build.sh"
bash "$root/scripts/kafka.sh" start
# The test tools, cached under ~/.cache/auditor-tools (minutes only the first time), so
# that no test's timeout pays for their installation: helm and the chart validator (label
# deploy), schemathesis (the tick API's contract test).
bash "$root/scripts/tools/helm.sh"
bash "$root/scripts/tools/schemathesis.sh" >/dev/null
ctest --test-dir "$root/build" --output-on-failure -L 'unit|integration|robustness|deploy'
bash "$root/scripts/fuzz.sh" "${AUDITOR_CI_FUZZ_SECONDS:-15}"
echo "test.sh: all tests passed in $(( $(date +%s) - started )) s"
