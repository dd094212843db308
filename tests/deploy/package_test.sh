#!/usr/bin/env bash
# The Debian package: built with CPack from the build directory, inspected with dpkg-deb
# (control fields, conffiles, exactly the expected files), installed with apt into a
# debootstrapped Debian 12 root (so Debian resolves the computed Depends: a missing one
# shows as a library the binary cannot load), `auditor --version` run there as the package's
# user, and the installed units checked by that root's own `systemd-analyze verify` (the
# systemd the package is for; it must print nothing).
# Usage: package_test.sh SOURCE_DIR BUILD_DIR VERSION AUDITOR_BINARY   (as root)
set -euo pipefail
src=$1
build=$2
version=$3
binary=$4
started=$(date +%s)
fail() { echo "FAIL: $*" >&2; exit 1; }
# A command that fails under set -e says where, instead of ending the test silently.
trap 'echo "FAIL: line $LINENO: $BASH_COMMAND" >&2' ERR

source "$src/tests/deploy/debian_root.sh"
debian_root_new "$src"
out="$ROOT/tmp/package"
mkdir -p "$out"
cpack --config "$build/CPackConfig.cmake" -B "$out" >"$out/cpack.log" 2>&1 ||
  { cat "$out/cpack.log" >&2; fail "cpack"; }
deb=$(echo "$out"/auditor_*.deb)
[[ -f $deb ]] || fail "cpack wrote no auditor_*.deb (log: $(cat "$out/cpack.log"))"
echo "built $(basename "$deb") ($(du -h "$deb" | cut -f1)) in $(( $(date +%s) - started )) s"

field() { dpkg-deb -f "$deb" "$1"; }
[[ $(field Package) == auditor ]] || fail "Package: $(field Package)"
[[ $(field Version) == "$version" ]] || fail "Version: $(field Version), expected $version"
for f in Maintainer Description Section Architecture; do
  [[ -n $(field "$f") ]] || fail "no $f field"
done
depends=$(field Depends)
echo "Depends: $depends"
depends_names=$(sed -e 's/ ([^)]*)//g' -e 's/, /\n/g' <<<"$depends")
# The libraries the binary links (independent of dpkg-shlibdeps: readelf's NEEDED list,
# mapped to their Debian packages on this build host) and adduser for the postinst.
needed=$(readelf -d "$binary" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p')
for lib in $needed; do
  # Readers that consume their whole input: one that stops early (awk's exit, head) can
  # kill the writer with SIGPIPE, which pipefail turns into a silent exit of this script.
  path=$(ldconfig -p | awk -v l="$lib" '$1 == l && /x86-64/ && !found { print $NF; found = 1 }')
  pkg=$( (dpkg -S "$path" || dpkg -S "$(readlink -f "$path")") 2>/dev/null | sed -n '1s/:.*//p')
  [[ -n $pkg ]] || fail "no package owns $lib ($path)"
  # A dependency may name a virtual package the library's package provides
  # (libspdlog1.10 provides libspdlog1.10-fmt9).
  names=$(dpkg-query -W -f='${Package}, ${Provides}' "$pkg" | sed 's/ ([^)]*)//g')
  found=
  for name in ${names//,/ }; do
    grep -qxF "$name" <<<"$depends_names" && found=$name
  done
  [[ -n $found ]] || fail "Depends lacks $pkg (for $lib)"
done
grep -qxF adduser <<<"$depends_names" || fail "Depends lacks adduser (postinst)"
echo "Depends covers the $(wc -w <<<"$needed") libraries the binary links, and adduser"

files=$(dpkg-deb -c "$deb" | awk '$1 !~ /^d/ { print $NF }' | sort)
expected=$(printf '%s\n' ./etc/auditor/tick-api.conf ./etc/auditor/worker-example.conf \
  ./lib/systemd/system/auditor-tick-api.service ./lib/systemd/system/auditor-worker@.service \
  ./usr/bin/auditor | sort)
[[ $files == "$expected" ]] || fail "package files differ: $(diff <(echo "$expected") <(echo "$files"))"
conffiles=$(dpkg-deb -I "$deb" conffiles | sort)
[[ $conffiles == "$(grep '^./etc/' <<<"$expected" | sed 's/^\.//')" ]] ||
  fail "conffiles: $conffiles"
echo "contents: $(wc -l <<<"$files") files as expected, conffiles: $(echo $conffiles)"

# Installed by apt from a path: the Depends come from Debian's archive. systemd too, for
# its systemd-analyze (it runs offline; nothing starts in a chroot).
debian_root_apt update >/dev/null
debian_root_apt install -y --no-install-recommends "/tmp/package/$(basename "$deb")" systemd \
  >"$out/apt.log" 2>&1 || { cat "$out/apt.log" >&2; fail "apt-get install of the package"; }
echo "installed with apt into a Debian 12 root in $(( $(date +%s) - started )) s"

user=$(chroot "$ROOT" id auditor) || fail "postinst created no user auditor"
echo "postinst: $user"
installed_version=$(chroot --userspec="$(chroot "$ROOT" id -u auditor):$(chroot "$ROOT" id -g auditor)" \
                      "$ROOT" /usr/bin/auditor --version 2>&1) ||
  fail "auditor --version in the root: $installed_version"
grep -Eq "^auditor $version \\(commit ([0-9a-f]{12}|unknown)\\)$" <<<"$installed_version" ||
  fail "unexpected version line: $installed_version"
echo "in the root: $installed_version"

units=(auditor-worker@test.service auditor-tick-api.service)
verify=$(chroot "$ROOT" systemd-analyze verify "${units[@]}" 2>&1) || true
[[ -z $verify ]] || fail "systemd-analyze verify ${units[*]}: $verify"
echo "systemd-analyze verify ${units[*]}: nothing reported"
for unit in "${units[@]}"; do
  chroot "$ROOT" systemd-analyze security --offline=true "$unit" 2>/dev/null | tail -1
done
echo "PASS in $(( $(date +%s) - started )) s"
