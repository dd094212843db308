#!/usr/bin/env bash
# Runs clang-tidy (.clang-tidy at the root) over auditor's own sources, using the compile
# commands of build/ (configured by scripts/build.sh). Installs Debian's clang-tidy when
# it is missing. Arguments: files to check (default: every .cpp under topology/, state/,
# worker/). Exit code 1 when clang-tidy reports anything.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if ! command -v clang-tidy >/dev/null; then
    sudo=""; [[ $(id -u) -eq 0 ]] || sudo="sudo"
    $sudo apt-get install -y -q clang-tidy >/dev/null
fi
[[ -f $root/build/compile_commands.json ]] || bash "$root/scripts/build.sh"
cd "$root"
if (($#)); then
    files=("$@")
else
    mapfile -t files < <(git ls-files 'topology/*.cpp' 'state/*.cpp' 'worker/*.cpp')
fi
out=$(clang-tidy -p build --quiet "${files[@]}" 2>/dev/null || true)
if grep -q "warning:\|error:" <<<"$out"; then
    echo "$out"
    exit 1
fi
echo "clang-tidy: ${#files[@]} files, no findings"
