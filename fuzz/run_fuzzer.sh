#!/usr/bin/env bash
# Runs one libFuzzer target for a bounded time (the ctest command of fuzz/CMakeLists.txt):
#   run_fuzzer.sh <fuzzer> <seed corpus dir> <work dir> <seconds>
# The seeds are copied into <work dir>/corpus/<name>/, which the fuzzer grows (and which is
# kept between runs); a crashing input is written to <work dir>/artifacts/<name>/.
set -euo pipefail
fuzzer=$1 seeds=$2 work=$3 seconds=$4
name=$(basename "$fuzzer")
corpus=$work/corpus/$name
artifacts=$work/artifacts/$name
mkdir -p "$corpus" "$artifacts"
cp -f "$seeds"/* "$corpus"/
# -timeout: one input running over 5 s is a hang; -rss_limit_mb: a runaway allocation is
# a finding, not an OOM kill of the machine.
exec "$fuzzer" -max_total_time="$seconds" -timeout=5 -rss_limit_mb=2048 -detect_leaks=1 \
    -print_final_stats=1 -artifact_prefix="$artifacts/" "$corpus"
