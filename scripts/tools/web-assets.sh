#!/usr/bin/env bash
# Fetches the web assets the binary embeds (the tick API's /docs page: Swagger UI) from the
# npm registry into ~/.cache/auditor-tools/ and prints the directory holding them. Pinned:
# the version and its sha512 (npm checks the tarball against the registry's integrity, this
# script the registry's integrity against the pin). Idempotent; instant once cached.
# Run by CMake at configure time (worker/CMakeLists.txt): nothing downloaded is committed.
set -euo pipefail
name=swagger-ui-dist
version=5.35.0
integrity=sha512-U06rpMtW9V3XPGOBeamTUSr0Z09jMX4IJuANpE/EZbAhw0G8CgwrzU4YmXkn/h0wCDNsXdGarTNNHC3sU8yVUQ==

cache="${AUDITOR_TOOLS_CACHE:-$HOME/.cache/auditor-tools}"
dir="$cache/$name-$version"
if [[ -f "$dir/.complete" ]]; then
  echo "$dir/package"
  exit 0
fi
command -v npm >/dev/null || { echo "web-assets: npm is needed (Debian: apt-get install npm)" >&2; exit 1; }
rm -rf "$dir" && mkdir -p "$dir"
# Messages to stderr: stdout carries only the directory.
npm pack "$name@$version" --pack-destination "$dir" --json --silent >"$dir/pack.json"
got=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1]))[0].integrity)' "$dir/pack.json")
if [[ "$got" != "$integrity" ]]; then
  echo "web-assets: $name@$version has integrity $got, pinned $integrity" >&2
  exit 1
fi
tar -xzf "$dir/$name-$version.tgz" -C "$dir"
touch "$dir/.complete"
echo "web-assets: $name@$version in $dir" >&2
echo "$dir/package"
