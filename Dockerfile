# auditor in a container: one image, every subcommand (`docker run auditor worker ...`).
# Multi-stage: the build stage has the compilers and -dev packages, the runtime stage only
# the packages of the shared libraries the binary links (its NEEDED entries; Debian's
# RocksDB CMake target is the static library, so RocksDB itself is in the binary but its
# compression libraries are not). The test image_contents (tests/deploy/image_test.sh)
# installs exactly this list in a debootstrapped bookworm root and runs a worker there.

FROM debian:bookworm AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      build-essential cmake ninja-build pkg-config \
      librdkafka-dev librocksdb-dev nlohmann-json3-dev libboost-program-options-dev \
      libsimdjson-dev libcpp-httplib-dev libspdlog-dev libfmt-dev libgtest-dev libgmock-dev \
      libssl-dev npm \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# .git is not in the build context (.dockerignore): the commit comes as a build argument
# (docker compose passes it from AUDITOR_COMMIT), else `auditor --version` says "unknown".
ARG AUDITOR_COMMIT=
# Only the binary: the tests need a broker and run in CI, not in the image build.
# Configuring fetches the tick API's /docs assets (scripts/tools/web-assets.sh: npm).
RUN cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DAUDITOR_WERROR=OFF \
      -DAUDITOR_COMMIT="${AUDITOR_COMMIT}" \
 && cmake --build build --target auditor \
 && strip build/worker/auditor

FROM debian:bookworm-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      librdkafka1 libboost-program-options1.74.0 libsimdjson14 libcpp-httplib0.11 \
      libspdlog1.10 libfmt9 libssl3 libsnappy1v5 liblz4-1 libzstd1 libbz2-1.0 zlib1g \
      ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 auditor \
 && useradd --system --uid 10001 --gid 10001 --create-home --home-dir /var/lib/auditor auditor
COPY --from=build /src/build/worker/auditor /usr/local/bin/auditor
# Numeric, and the same as the Helm chart's securityContext (runAsUser 10001), so a
# cluster's runAsNonRoot check can verify it without reading /etc/passwd.
USER 10001
WORKDIR /var/lib/auditor
ENTRYPOINT ["auditor"]
CMD ["--help"]
