#!/usr/bin/env bash
# Installs everything auditor needs on a Debian 12 machine: the C++ toolchain and
# libraries from Debian (clang 14 with its libFuzzer/sanitizer runtimes for scripts/fuzz.sh),
# and Java 17 + Maven for the local Kafka broker (the JDK and openssl for its secured
# variant: scripts/kafka.sh --secure).
# Idempotent: skips apt-get when every package is already installed.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config clang-format clang-14 libclang-rt-14-dev
  librdkafka-dev librocksdb-dev nlohmann-json3-dev libboost-program-options-dev
  libsimdjson-dev libcpp-httplib-dev libspdlog-dev libfmt-dev libgtest-dev libgmock-dev
  openjdk-17-jre-headless openjdk-17-jdk-headless maven curl procps python3 openssl libssl-dev
  chromium docker-compose
  # the deploy tests image_contents and package_deb: a minimal Debian root
  debootstrap
  # promtool and a real Prometheus for the alert rules and the live scrape test
  # (tests/deploy/prometheus.cmake); python3-yaml for its rules coverage check.
  prometheus python3-yaml
  # the tick API's OpenAPI test: schemathesis in a venv (scripts/tools/schemathesis.sh)
  python3-venv
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

# npm fetches the /docs page's assets at configure time (scripts/tools/web-assets.sh). The
# machines come with Node.js and npm; Debian's npm only where neither is there (it would
# clash with another Node.js install).
command -v npm >/dev/null || missing+=(npm)

if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  sudo_cmd=()
  [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
  # The prometheus package starts its own server on :9090 (through systemd, or its init
  # script where no systemd runs and no policy-rc.d forbids it). The tests run their own on
  # a free port and only need the binaries: stop and disable the package's server.
  if [[ " ${missing[*]} " == *" prometheus "* ]]; then
    if [[ -d /run/systemd/system ]]; then
      "${sudo_cmd[@]}" systemctl disable --now prometheus.service
    else
      "${sudo_cmd[@]}" /etc/init.d/prometheus stop >/dev/null || true
      "${sudo_cmd[@]}" update-rc.d prometheus disable >/dev/null
    fi
  fi
else
  echo "install-deps: all packages present"
fi
