#!/usr/bin/env bash
# The container image, checked without Docker: the Dockerfile's runtime stage rebuilt in a
# debootstrapped Debian 12 root (the base image's release): exactly the packages its
# `apt-get install` lists, its user, the binary where its COPY puts it (stripped, as the
# build stage does). From inside the root, as that user: `auditor --version`, then a worker
# run against the local broker until its rollups count every generated tick, stopped with
# SIGTERM. A shared library the stage lacks fails here with the loader's message.
# Usage: image_test.sh SOURCE_DIR AUDITOR_BINARY   (root, a broker on 127.0.0.1:9092)
set -euo pipefail
src=$1
binary=$2
ticks=3000
started=$(date +%s)
fail() { echo "FAIL: $*" >&2; exit 1; }
# A command that fails under set -e says where, instead of ending the test silently.
trap 'echo "FAIL: line $LINENO: $BASH_COMMAND" >&2' ERR

# The runtime stage: what follows the last FROM, continuation lines joined.
stage=$(awk '/^FROM / { s = "" } { s = s $0 "\n" } END { printf "%s", s }' "$src/Dockerfile" |
          sed -e ':a' -e '/\\$/N; s/\\\n/ /; ta')
run_parts=$(grep '^RUN ' <<<"$stage" | sed -e 's/^RUN //' -e 's/&&/\n/g')
packages=$(grep 'apt-get install' <<<"$run_parts" | tr ' ' '\n' |
             sed -n '/^install$/,$p' | grep -v -e '^install$' -e '^-' -e '^$' | tr '\n' ' ')
# The group and user commands, in order, joined into one shell command.
useradd_cmd=$(grep -E '^\s*(groupadd|useradd) ' <<<"$run_parts" | sed -e 's/^\s*//' -e 's/\s*$//' |
                paste -sd ';')
copy_dest=$(awk '$1 == "COPY" && $2 ~ /^--from=/ && $3 ~ /\/auditor$/ { print $4 }' <<<"$stage")
user=$(awk '$1 == "USER" { print $2 }' <<<"$stage")
workdir=$(awk '$1 == "WORKDIR" { print $2 }' <<<"$stage")
[[ -n $packages && -n $useradd_cmd && -n $copy_dest && -n $user && -n $workdir ]] ||
  fail "cannot read the runtime stage of the Dockerfile (packages '$packages', user" \
       "command '$useradd_cmd', COPY destination '$copy_dest', USER '$user', WORKDIR '$workdir')"
echo "Dockerfile runtime stage: packages: $packages"
echo "Dockerfile runtime stage: $useradd_cmd; COPY to $copy_dest; USER $user; WORKDIR $workdir"

source "$src/tests/deploy/debian_root.sh"
debian_root_new "$src"
debian_root_apt update >/dev/null
# shellcheck disable=SC2086  # the package list splits into words, as in the Dockerfile
debian_root_apt install -y --no-install-recommends $packages >"$ROOT/apt.log" 2>&1 ||
  { cat "$ROOT/apt.log" >&2; fail "apt-get install of the runtime packages"; }
chroot "$ROOT" sh -c "$useradd_cmd"
mkdir -p "$ROOT$(dirname "$copy_dest")"
strip -o "$ROOT$copy_dest" "$binary"
uid=$(chroot "$ROOT" id -u "$user")
gid=$(chroot "$ROOT" id -g "$user")
echo "root ready in $(( $(date +%s) - started )) s: $(du -sh --exclude=proc --exclude=dev \
  --exclude=var/cache/apt --exclude=var/lib/apt "$ROOT" 2>/dev/null | cut -f1) without apt's caches"

# Runs ARGS in the root as the image would: its user, its WORKDIR, Docker's default PATH.
# Execs, so that a background call's $! is the program's own process.
in_image() {
  exec chroot --userspec="$uid:$gid" "$ROOT" env -i HOME="$workdir" \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    sh -c 'cd "$1" && shift && exec "$@"' sh "$workdir" "$@"
}

version=$(in_image auditor --version 2>&1) ||
  fail "auditor --version in the image root: $version"
grep -Eq '^auditor [0-9.]+ \(commit ([0-9a-f]{12}|unknown)\)$' <<<"$version" ||
  fail "unexpected version line: $version"
echo "in the root: $version"

# A short worker run on topics of its own.
id="image-test-$$-$(date +%s)"
"$binary" generate --input-topic "$id" --total "$ticks" --partitions 3 >/dev/null 2>&1 ||
  fail "auditor generate"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
log="$ROOT/worker.log"
in_image auditor worker --application-id "$id" --input-topic "$id" --output-topic "$id.rollups" \
  --dlq-topic "$id.dlq" --http-port "$port" --commit-interval 200ms >"$log" 2>&1 &
worker=$!
counted=0
deadline=$((SECONDS + 90))
while ((SECONDS < deadline)); do
  kill -0 "$worker" 2>/dev/null || { cat "$log" >&2; fail "the worker in the root exited"; }
  counted=$("$binary" rollups --output-topic "$id.rollups" --window 1m --json --limit 100000 \
              --timeout 5s 2>/dev/null | python3 -c '
import json, sys
print(sum(json.loads(line)["ticks"] for line in sys.stdin if line.strip()))' || true)
  [[ $counted -eq $ticks ]] && break
  sleep 0.5
done
[[ $counted -eq $ticks ]] ||
  { tail -20 "$log" >&2; fail "after 90 s the rollups count $counted ticks, $ticks produced"; }
echo "worker in the root: 1m rollups count $counted of $ticks ticks"
metrics=$(python3 -c "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:$port/metrics', timeout=5).read().decode())")
grep -E '^auditor_(ticks_valid_total|commits_total) ' <<<"$metrics"

stop_started=$(date +%s%N)
kill -TERM "$worker"
rc=0
timeout 60 tail --pid="$worker" -f /dev/null || fail "the worker did not stop within 60 s of SIGTERM"
wait "$worker" || rc=$?
[[ $rc -eq 0 ]] || { tail -20 "$log" >&2; fail "the worker exited $rc after SIGTERM"; }
grep -q 'stopped cleanly' "$log" || { tail -20 "$log" >&2; fail "no 'stopped cleanly' in the log"; }
[[ -d $ROOT$workdir/auditor-state ]] || fail "no state directory $workdir/auditor-state in the root"
echo "worker stopped cleanly on SIGTERM in $(( ($(date +%s%N) - stop_started) / 1000000 )) ms (exit 0)"
echo "PASS in $(( $(date +%s) - started )) s"
