#!/usr/bin/env bash
# The demo: installs, builds, starts the local Kafka, starts a worker, generates ticks
# for a short while, waits until the worker has counted them, and prints the rollups.
# Options through the environment: DEMO_TICKS (default 1000000).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ticks="${DEMO_TICKS:-1000000}"
bash "$root/scripts/install-deps.sh"
bash "$root/scripts/build.sh" --target auditor  # only what the demo runs
bash "$root/scripts/kafka.sh" start

auditor="$root/build/worker/auditor"
demo_dir="$root/build/demo"
rm -rf "$demo_dir" && mkdir -p "$demo_dir"
# A fresh application id per run, so the demo always starts from a clean slate.
app="auditor-demo-$(date +%s)"
input="demo_events_$(date +%s)"
output="demo_rollups_$(date +%s)"
common=(--input-topic "$input" --partitions 6)

"$auditor" worker --application-id "$app" "${common[@]}" --output-topic "$output" \
  --dlq-topic "$input.dlq" --state-dir "$demo_dir/state" --http-port 0 \
  2>"$demo_dir/worker.log" &
worker_pid=$!
trap 'kill "$worker_pid" 2>/dev/null || true' EXIT
echo "demo: worker started (pid $worker_pid, log $demo_dir/worker.log)"

"$auditor" dashboard --output-topic "$output" --port "${DEMO_DASHBOARD_PORT:-8081}" \
  2>"$demo_dir/dashboard.log" &
dashboard_pid=$!
trap 'kill "$worker_pid" "$dashboard_pid" 2>/dev/null || true' EXIT
echo "demo: live dashboard on http://localhost:${DEMO_DASHBOARD_PORT:-8081} (stopped at the end; DEMO_KEEP_DASHBOARD=1 keeps it)"

echo "demo: generating $ticks ticks (0.1% invalid, 0.1% late)"
"$auditor" generate "${common[@]}" --total "$ticks" --processes 40 --activities 6 \
  --bad-share 0.001 --late-share 0.001

echo "demo: waiting for the worker to count them"
deadline=$(( $(date +%s) + 180 ))
while :; do
  consumed=$(grep -o 'totals: [0-9]* input' "$demo_dir/worker.log" | tail -1 | grep -o '[0-9]*' || true)
  [[ -n "$consumed" && "$consumed" -ge "$ticks" ]] && break
  if (( $(date +%s) > deadline )); then echo "demo: the worker did not catch up in time" >&2; exit 1; fi
  sleep 2
done
sleep 3  # one more commit interval so the last rollups are published
grep 'progress:' "$demo_dir/worker.log" | sed 's/^/  worker: /' | tail -4

echo
echo "demo: top rollups (auditor rollups --output-topic $output)"
"$auditor" rollups --output-topic "$output" --limit 15 --log-level warn
kill -TERM "$worker_pid"; wait "$worker_pid" || true
if [[ "${DEMO_KEEP_DASHBOARD:-0}" == 1 ]]; then
  trap - EXIT
  echo "demo: dashboard still running (pid $dashboard_pid)"
else
  kill -TERM "$dashboard_pid" 2>/dev/null || true
  trap - EXIT
fi
echo "demo: worker stopped. Kafka keeps running: bash scripts/kafka.sh stop"
