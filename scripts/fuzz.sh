#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/) into build-fuzz/ with clang-14, ASan and UBSan, and
# runs each on its seed corpus for [seconds] (default 30) via `ctest -L fuzz`.
#   bash scripts/fuzz.sh 60
# A finding fails its test; the input is saved under build-fuzz/fuzz/artifacts/<target>/
# (reproduce with build-fuzz/fuzz/<target> <file>). The corpus each target grows is kept in
# build-fuzz/fuzz/corpus/<target>/ between runs.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
seconds=${1:-30}
build="$root/build-fuzz"
CC=clang-14 CXX=clang++-14 cmake -S "$root" -B "$build" -G Ninja -DAUDITOR_BUILD_FUZZ=ON \
    -DAUDITOR_BUILD_TESTS=OFF -DAUDITOR_BUILD_BENCH=OFF \
    -DAUDITOR_FUZZ_SECONDS="$seconds" >/dev/null
cmake --build "$build" --parallel "$(nproc)"
# One target at a time: each already keeps a core busy, and their times then add up to
# what the caller asked for (5 targets x seconds).
ctest --test-dir "$build" --output-on-failure -L fuzz
