#!/usr/bin/env bash
# Configures and builds auditor into build/ (Release with debug info). Extra arguments go
# to CMake's configure step, e.g. -DAUDITOR_SANITIZE=ON.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cmake -S "$root" -B "$root/build" -G Ninja "$@" >/dev/null
cmake --build "$root/build" --parallel "$(nproc)"
