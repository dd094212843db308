#!/usr/bin/env bash
# The Helm chart's tests (tests/deploy/helm.cmake). Usage:
#   helm_test.sh tools                         install helm and the validator (scripts/tools/helm.sh)
#   helm_test.sh version PROJECT_VERSION       Chart.yaml's appVersion is the CMake project's
#   helm_test.sh lint                          helm lint --strict, with every value set in ci/
#   helm_test.sh template SET AUDITOR OUT      helm template with ci/SET-values.yaml, then the
#                                              validator against the auditor binary's options,
#                                              starting each container's command line (-run)
#   helm_test.sh rejects AUDITOR OUT           the validator rejects broken renders
#   helm_test.sh unit                          the validator's Go unit tests
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
chart="$root/deploy/helm/auditor"
bin="${AUDITOR_TOOLS_DIR:-$HOME/.cache/auditor-tools}/bin"
helm="$bin/helm"
validator="$bin/auditor-helm-validate"

render() { # SET OUTFILE
  "$helm" template auditor "$chart" --namespace auditor-test -f "$chart/ci/$1-values.yaml" >"$2"
}

validate() { # SET AUDITOR MANIFEST: the values files the render used, then the manifest
  "$validator" -auditor "$2" -run -values "$chart/values.yaml" -values "$chart/ci/$1-values.yaml" \
    "$3"
}

expect() { # FILE PATTERN WHAT: a fact of the render the value set is about
  grep -qE -- "$2" "$1" || { echo "FAIL: $3: no line matching '$2'"; exit 1; }
  echo "ok: $3"
}

case "$1" in
tools)
  bash "$root/scripts/tools/helm.sh"
  "$helm" version --short
  ;;
version)
  app="$(sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' "$chart/Chart.yaml")"
  echo "Chart.yaml appVersion: $app; CMake project version: $2"
  [[ "$app" == "$2" ]] || { echo "FAIL: appVersion differs from the project version"; exit 1; }
  ;;
lint)
  for values in "$chart"/ci/*-values.yaml; do
    echo "== helm lint --strict -f ci/$(basename "$values")"
    "$helm" lint --strict "$chart" -f "$values"
  done
  ;;
template)
  set_name="$2" auditor="$3" out="$4"
  mkdir -p "$out"
  manifest="$out/$set_name.yaml"
  render "$set_name" "$manifest"
  echo "rendered ci/$set_name-values.yaml: $(grep -c '^kind:' "$manifest") objects, $(wc -l <"$manifest") lines -> $manifest"
  validate "$set_name" "$auditor" "$manifest"
  # What each set is about, in the rendered text.
  case "$set_name" in
  default)
    # A long release name: every name stays within the API's limits.
    long="$out/long-release-name.yaml"
    "$helm" template payments-audit-pipeline-production-eu-west-1 "$chart" >"$long"
    echo "release payments-audit-pipeline-production-eu-west-1:"
    "$validator" -auditor "$auditor" -values "$chart/values.yaml" "$long"
    expect "$manifest" '^  replicas: 3$' "3 workers"
    expect "$manifest" 'memory: 512Mi' "worker memory request is worker.memory (512Mi)"
    expect "$manifest" 'memory: 640Mi' "worker memory limit 125% of worker.memory (640Mi)"
    expect "$manifest" 'value: "512MiB"' "AUDITOR_MEMORY from worker.memory (512MiB)"
    expect "$manifest" 'value: \$\(POD_NAME\)\.auditor-worker-headless\.\$\(POD_NAMESPACE\)\.svc\.cluster\.local:8080' \
      "advertised HTTP address through the headless service"
    ;;
  secured)
    expect "$manifest" 'name: AUDITOR_KAFKA_SASL_PASSWORD$' "SASL password in the environment"
    expect "$manifest" 'value: /etc/auditor/kafka-ca/ca.crt' "Kafka CA mounted"
    expect "$manifest" '^ *- /etc/auditor/auth/token$' "bearer token file"
    expect "$manifest" 'scheme: HTTPS' "HTTPS probes"
    ;;
  secured-file)
    expect "$manifest" 'value: /etc/auditor/kafka-sasl/sasl-password' "SASL password as a file"
    expect "$manifest" 'name: kafka-ca-bundle' "CA from a ConfigMap"
    ;;
  scaled)
    expect "$manifest" '^  replicas: 5$' "5 workers"
    expect "$manifest" 'storageClassName: fast-ssd' "storage class"
    expect "$manifest" '^kind: HorizontalPodAutoscaler$' "tick API autoscaler"
    expect "$manifest" 'name: AUDITOR_INPUT_TOPIC' "worker input topic set"
    [[ $(grep -cE '^ *(- |value: )"payments\.audit"$' "$manifest") -eq 2 ]] ||
      { echo "FAIL: the worker and the tick API do not both use topics.input"; exit 1; }
    echo "ok: the worker reads and the tick API writes topics.input"
    ;;
  minimal)
    expect "$manifest" '^  replicas: 1$' "1 worker"
    expect "$manifest" 'value: "256MiB"' "AUDITOR_MEMORY from worker.memory (256MiB)"
    if grep -qE '^kind: PodDisruptionBudget$|name: auditor-dashboard$' "$manifest"; then
      echo "FAIL: the minimal set renders a PodDisruptionBudget or the dashboard"; exit 1
    fi
    echo "ok: no PodDisruptionBudget, no dashboard"
    ;;
  esac
  ;;
rejects)
  auditor="$2" out="$3"
  mkdir -p "$out"
  render default "$out/base.yaml"
  render secured "$out/base-secured.yaml"
  render scaled "$out/base-scaled.yaml"
  failures=0
  # CASE EXPECTED-ERROR-TEXT BASE SED-SCRIPT [VALUES-SET]: the mutated render must change,
  # and the validator must exit 1 naming the problem.
  bites() {
    local name="$1" expected="$2" base="$3" script="$4" set_name="${5:-default}"
    local broken="$out/broken-$name.yaml" log="$out/broken-$name.log" rc=0
    sed -e "$script" "$base" >"$broken"
    if [[ "$set_name" != wrong-values ]] && cmp -s "$base" "$broken"; then
      echo "FAIL: $name: the mutation changed nothing"; failures=$((failures + 1)); return
    fi
    if [[ "$set_name" == wrong-values ]]; then
      "$validator" -auditor "$auditor" -values "$chart/values.yaml" "$broken" >"$log" 2>&1 || rc=$?
    else
      validate "$set_name" "$auditor" "$broken" >"$log" 2>&1 || rc=$?
    fi
    if [[ $rc -eq 1 ]] && grep -qF -- "$expected" "$log"; then
      echo "rejected: $name: $(grep -F -m1 -- "$expected" "$log")"
    else
      echo "FAIL: $name: exit $rc, expected an error containing '$expected':"; cat "$log"
      failures=$((failures + 1))
    fi
  }
  bites unknown-field 'unknown field "podManagmentPolicy"' "$out/base.yaml" \
    's/^  podManagementPolicy:/  podManagmentPolicy:/'
  bites duplicate-field 'already set in map' "$out/base.yaml" \
    '/^  serviceName: /p'
  bites wrong-type 'cannot unmarshal' "$out/base.yaml" \
    's/^  replicas: 3$/  replicas: three/'
  bites unknown-kind 'unknown kind "StatefulSet" in apiVersion "apps/v1beta3"' "$out/base.yaml" \
    's/^apiVersion: apps\/v1$/apiVersion: apps\/v1beta3/'
  bites misspelled-option 'has no option --state-dri' "$out/base.yaml" \
    's/^\( *\)- --state-dir$/\1- --state-dri/'
  bites misspelled-env 'has no option --commit-intervall' "$out/base.yaml" \
    's/name: AUDITOR_COMMIT_INTERVAL$/name: AUDITOR_COMMIT_INTERVALL/'
  bites option-of-another-command 'worker --help` has no option --port' "$out/base.yaml" \
    's/^\( *\)- --http-port$/\1- --port/'
  bites probe-on-missing-port 'readiness probe on port metrics' "$out/base.yaml" \
    '/path: \/readyz/{n;s/port: http/port: metrics/}'
  bites service-on-missing-port 'targetPort 9090 is not a container port' "$out/base.yaml" \
    '0,/targetPort: http/s/targetPort: http/targetPort: 9090/'
  bites mount-without-volume 'mounts volume "temp"' "$out/base.yaml" \
    '0,/- name: tmp$/s/- name: tmp$/- name: temp/'
  bites selector-mismatch 'does not match the pod template' "$out/base.yaml" \
    's/^        app.kubernetes.io\/component: worker$/        app.kubernetes.io\/component: workers/'
  bites undefined-variable 'refers to $(POD_NAMESPACES)' "$out/base.yaml" \
    's/\$(POD_NAMESPACE)\.svc/$(POD_NAMESPACES).svc/'
  bites secret-on-command-line 'puts a secret on the command line' "$out/base.yaml" \
    's/^\( *\)- --state-dir$/\1- --kafka-sasl-password\n\1- hunter2\n\1- --state-dir/'
  bites hpa-without-cpu-request 'requests no cpu' "$out/base-scaled.yaml" \
    '/^ *cpu: 100m$/d' scaled
  bites bad-duration "'30 s' is not a duration" "$out/base.yaml" \
    '/name: AUDITOR_GRACE$/{n;s/value: "30s"/value: "30 s"/}'
  bites decimal-memory "'512MB' is not a size" "$out/base.yaml" \
    '/name: AUDITOR_MEMORY$/{n;s/value: "512MiB"/value: "512MB"/}'
  bites memory-above-limit 'AUDITOR_MEMORY 512MiB is above the container' "$out/base.yaml" \
    's/memory: 640Mi/memory: 500Mi/'
  bites file-outside-its-mount "exited (exit status 2) instead of starting" "$out/base-secured.yaml" \
    's|/etc/auditor/tls/tls.crt|/etc/auditor/tls-certs/tls.crt|' secured
  bites name-too-long 'must be no more than 63 characters' "$out/base.yaml" \
    's/auditor-worker-headless/auditor-worker-headless-for-the-payments-audit-pipeline-production/'
  bites secret-not-in-values 'Secret "auditor-kafka-credentials" is not named in the values' \
    "$out/base-secured.yaml" '' wrong-values
  echo "$((20 - failures)) of 20 broken renders rejected"
  [[ $failures -eq 0 ]]
  ;;
unit)
  cd "$root/deploy/helm/validate"
  GOMODCACHE="$(dirname "$bin")/go-mod" GOFLAGS=-modcacherw GOTOOLCHAIN=local \
    "$(command -v go || echo /usr/local/go/bin/go)" test -v ./...
  ;;
*)
  echo "usage: $0 tools|version|lint|template|rejects|unit ..." >&2
  exit 2
  ;;
esac
