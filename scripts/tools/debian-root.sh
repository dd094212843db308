#!/usr/bin/env bash
# A minimal Debian 12 root for the deploy tests (tests/deploy/image.cmake, package.cmake):
# `debootstrap --variant=minbase bookworm` from the Debian mirror this machine's apt uses,
# once per machine, kept under ~/.cache/auditor-tools/ as a directory that is never written
# again (the tests mount a writable overlay on it: a fresh root costs no copying). Prints
# its path; later calls only print it. The root's apt sources name the same mirror (bookworm,
# bookworm-updates, bookworm-security), so it installs the versions the host builds with.
# Needs root (debootstrap) and debootstrap (scripts/install-deps.sh).
set -euo pipefail

cache="${AUDITOR_TOOLS_CACHE:-$HOME/.cache/auditor-tools}"
base="$cache/debian-bookworm-minbase"
mkdir -p "$cache"

# One debootstrap at a time; the others wait for its result.
exec 9>"$cache/debian-root.lock"
flock 9
if [[ -d $base ]]; then
  echo "$base"
  exit 0
fi

# The host's Debian mirrors (one-line sources.list or deb822 .sources), else deb.debian.org.
shopt -s nullglob
sources=(/etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources)
uris=$({ cat "${sources[@]}" 2>/dev/null || true; } | awk '/^deb / { for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) print $i }
                            /^URIs:/ { for (i = 2; i <= NF; i++) print $i }')
mirror=$(grep -E '/debian/?$' <<<"$uris" | head -1 || true)
security=$(grep -E '/debian-security/?$' <<<"$uris" | head -1 || true)
mirror=${mirror:-http://deb.debian.org/debian}
security=${security:-http://deb.debian.org/debian-security}

work=$(mktemp -d "$cache/debootstrap.XXXXXX")
# A failed debootstrap may leave its /proc or /sys mounted in the root: never delete
# through them.
cleanup() {
  awk -v w="$work/" 'index($2, w) == 1 { print $2 }' /proc/self/mounts | sort -r |
    xargs -r -n1 umount --lazy
  rm -rf --one-file-system "$work"
}
trap cleanup EXIT
echo "debian-root: debootstrap --variant=minbase bookworm from $mirror (once per machine)" >&2
started=$(date +%s)
if ! debootstrap --variant=minbase bookworm "$work/root" "$mirror" >"$work/log" 2>&1; then
  tail -30 "$work/log" >&2
  echo "debian-root: debootstrap failed (log above)" >&2
  exit 1
fi
cat >"$work/root/etc/apt/sources.list" <<SOURCES
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb $security bookworm-security main
SOURCES
rm -rf "$work/root/var/cache/apt/archives/"*.deb "$work/root/var/lib/apt/lists/"*
mv "$work/root" "$base"
echo "debian-root: $base ($(du -sh "$base" | cut -f1)) in $(( $(date +%s) - started )) s" >&2
echo "$base"
