#!/usr/bin/env bash
# Installs what the Helm chart's tests (tests/deploy/helm.cmake) need, under
# ~/.cache/auditor-tools (AUDITOR_TOOLS_DIR): helm, built from its Go module through the Go
# module proxy, and the chart validator (deploy/helm/validate), rebuilt when its sources
# change. Go modules are cached in <tools>/go-mod, compiled packages in Go's own cache
# (~/.cache/go-build). Idempotent: under a second when both are current (first time: a few
# minutes, mostly compiling helm). Prints the two paths.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
tools="${AUDITOR_TOOLS_DIR:-$HOME/.cache/auditor-tools}"
helm_version=v3.22.0
go="$(command -v go || echo /usr/local/go/bin/go)"
[[ -x "$go" ]] || { echo "tools/helm.sh: no Go toolchain (go on PATH or /usr/local/go/bin/go)" >&2; exit 1; }
export GOMODCACHE="$tools/go-mod" GOFLAGS=-modcacherw GOTOOLCHAIN=local
mkdir -p "$tools/bin"

# helm: the version is recorded beside it (a `go install` build reports no exact version).
if [[ ! -x "$tools/bin/helm" || "$(cat "$tools/bin/helm.version" 2>/dev/null)" != "$helm_version" ]]; then
  echo "tools/helm.sh: building helm $helm_version (first time: a few minutes)"
  GOBIN="$tools/bin" "$go" install "helm.sh/helm/v3/cmd/helm@$helm_version"
  echo "$helm_version" >"$tools/bin/helm.version"
fi

# The validator, keyed by a hash of its sources.
src="$root/deploy/helm/validate"
hash="$(cat "$src"/go.mod "$src"/go.sum "$src"/*.go | sha256sum | cut -c1-16)"
validator="$tools/bin/auditor-helm-validate"
if [[ ! -x "$validator" || "$(cat "$validator.hash" 2>/dev/null)" != "$hash" ]]; then
  echo "tools/helm.sh: building the chart validator ($hash)"
  (cd "$src" && "$go" build -o "$validator.tmp" . && mv "$validator.tmp" "$validator")
  echo "$hash" >"$validator.hash"
fi
echo "helm: $tools/bin/helm"
echo "validator: $validator"
