# Sourced by the deploy tests that need a Debian root (image_test.sh, package_test.sh):
# a fresh root on the cached minbase one (scripts/tools/debian-root.sh), commands run in it
# with chroot, and apt in it with the downloads cached under ~/.cache/auditor-tools/.
#
#   debian_root_new SOURCE_DIR   sets $ROOT to a fresh writable root (an overlay on the
#                                cached one, or a copy where overlayfs is unavailable) with
#                                /proc, /dev and the apt caches bound into it; an EXIT trap
#                                ends what still runs in it, unmounts everything and
#                                deletes it, however the test ends
#   debian_root_apt ARGS...      apt-get ARGS in the root (noninteractive)
#
# The chroot shares the host's network: the local broker (127.0.0.1:9092) answers in it.
# Callers hold the CTest resource lock `debian_root` (the apt caches are shared).

debian_root_cache="${AUDITOR_TOOLS_CACHE:-$HOME/.cache/auditor-tools}/debian-root"
debian_root_tmp=
debian_root_mounts=()
ROOT=

debian_root_cleanup() {
  local p i
  [[ -n $ROOT ]] || return 0
  for p in /proc/[0-9]*; do
    [[ $(readlink "$p/root" 2>/dev/null) == "$ROOT" ]] && kill -KILL "${p#/proc/}" 2>/dev/null
  done
  for ((i = ${#debian_root_mounts[@]} - 1; i >= 0; i--)); do
    umount "${debian_root_mounts[i]}" 2>/dev/null || umount --lazy "${debian_root_mounts[i]}" || true
  done
  # Never delete through a mount that is still there (the host's /dev, the caches).
  if [[ -n $debian_root_tmp ]]; then
    if grep -q " $debian_root_tmp/" /proc/self/mounts; then
      echo "debian_root: $debian_root_tmp still has mounts; not deleted" >&2
    else
      rm -rf --one-file-system "$debian_root_tmp"
    fi
  fi
}

debian_root_mount() {  # mount arguments..., the mount point last
  mount "$@" || return
  debian_root_mounts+=("${!#}")
}

debian_root_new() {
  local base
  if [[ $(id -u) -ne 0 ]]; then
    echo "FAIL: this test needs root (debootstrap, chroot, mount); run it as root" >&2
    exit 1
  fi
  base=$(bash "$1/scripts/tools/debian-root.sh")
  debian_root_tmp=$(mktemp -d "${TMPDIR:-/tmp}/auditor-root.XXXXXX")
  ROOT=$debian_root_tmp/root
  trap debian_root_cleanup EXIT
  mkdir -p "$ROOT" "$debian_root_tmp/upper" "$debian_root_tmp/work"
  debian_root_mount -t overlay overlay -o "lowerdir=$base,upperdir=$debian_root_tmp/upper,workdir=$debian_root_tmp/work" "$ROOT" 2>/dev/null ||
    cp -a "$base/." "$ROOT"
  mkdir -p "$debian_root_cache/archives/partial" "$debian_root_cache/lists/partial"
  debian_root_mount --bind /proc "$ROOT/proc"
  debian_root_mount --bind /dev "$ROOT/dev"
  debian_root_mount --bind "$debian_root_cache/archives" "$ROOT/var/cache/apt/archives"
  debian_root_mount --bind "$debian_root_cache/lists" "$ROOT/var/lib/apt/lists"
  cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
}

debian_root_apt() {
  chroot "$ROOT" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \
    apt-get -q -o Dpkg::Use-Pty=0 -o Dpkg::Options::=--force-unsafe-io "$@"
}
