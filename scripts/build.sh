#!/usr/bin/env bash
# Configures and builds auditor into build/ (Release with debug info).
#   --target NAME   build only that target (repeatable), e.g. --target auditor
# Other arguments go to CMake's configure step, e.g. -DAUDITOR_SANITIZE=ON.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
targets=()
configure=()
while (($#)); do
    case $1 in
        --target) targets+=(--target "$2"); shift 2 ;;
        *) configure+=("$1"); shift ;;
    esac
done
cmake -S "$root" -B "$root/build" -G Ninja "${configure[@]}" >/dev/null
cmake --build "$root/build" --parallel "$(nproc)" "${targets[@]}"
