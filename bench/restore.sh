#!/usr/bin/env bash
# Restore benchmark: how long a replica takes to become ready again for a task holding
# about 1,000,000 window keys, auditor and Kafka Streams, both exactly-once:
#   (b) after SIGKILL mid-stream (once two thirds of the input are committed) with the state
#       directory kept: Kafka Streams wipes the state of a task that crashed under
#       exactly-once and replays its changelog; auditor reopens its store and replays only
#       what the store had not seen;
#   (a) from scratch: after the whole input, stopped cleanly, state directory deleted, so
#       the whole changelog is replayed.
#
#   bench/restore.sh                          6,000,000 ticks, 10,000 keys, 3h span
#   bench/restore.sh --ticks 300000 --span 12m    a smaller state
#
# One input partition, so one task holds every window: keys x (span/1m + span/1h + 1)
# windows at most; uniform keys (skew 0). "Ready" is the moment the contender's log says so
# (auditor: its task runs from its repartition offset; Kafka Streams: state RUNNING),
# measured from starting the process, log polled every 50 ms. After the SIGKILL the script
# waits 12 s before restarting, so the dead member has left the group (both use a 10 s
# session timeout) and the time measured is the restore, not failure detection.
#
# Flink (--contenders ...,flink) keeps no changelog: after the SIGKILL it restores RocksDB
# from its last retained checkpoint under its state directory; "from scratch" (state
# directory deleted) it has nothing to restore and starts over from the earliest input
# offset, so its from-scratch time is a start-up, not a restore (records replayed: n/a).
#
# Options: --ticks N [6000000] --keys K [10000] --span D [3h] --contenders LIST
# [auditor,kstreams; also flink] --build-dir DIR [build-bench] --no-build --bootstrap-servers B
# [127.0.0.1:9092] --results-name NAME [<date>-restore] --no-results
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bench_dir=$root/bench
command_line="bench/restore.sh $*"
ticks=6000000
keys=10000
span=3h
contenders=auditor,kstreams
build_dir=$root/build-bench
build=1
bootstrap=127.0.0.1:9092
results_name=$(date +%Y-%m-%d)-restore
write_results=1

say() { echo "restore.sh: $*" >&2; }
die() { echo "restore.sh: error: $*" >&2; exit 1; }

while (($#)); do
    case $1 in
        --ticks) ticks=$2; shift 2 ;;
        --keys) keys=$2; shift 2 ;;
        --span) span=$2; shift 2 ;;
        --contenders) contenders=$2; shift 2 ;;
        --build-dir) build_dir=$(cd "$2" 2>/dev/null && pwd || echo "$2"); shift 2 ;;
        --no-build) build=0; shift ;;
        --bootstrap-servers) bootstrap=$2; shift 2 ;;
        --results-name) results_name=$2; shift 2 ;;
        --no-results) write_results=0; shift ;;
        -h|--help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown option $1 (see --help)" ;;
    esac
done
[[ $ticks =~ ^[0-9]+$ && $ticks -gt 0 ]] || die "--ticks: a positive integer"

ks_dir=$bench_dir/kstreams
if ((build)); then
    cmake -S "$root" -B "$build_dir" -G Ninja >/dev/null
    cmake --build "$build_dir" --target auditor auditor_bench_tool
    if [[ ,$contenders, == *,kstreams,* ]]; then
        (cd "$ks_dir" && mvn -q -B package 2>&1 | sed -u 's/\x1b\[[0-9;]*m//g') ||
            die "Maven build of bench/kstreams failed"
    fi
    if [[ ,$contenders, == *,flink,* ]]; then
        (cd "$bench_dir/flink" && mvn -q -B package 2>&1 | sed -u 's/\x1b\[[0-9;]*m//g') ||
            die "Maven build of bench/flink failed"
    fi
fi
auditor_bin=$build_dir/worker/auditor
tool=$build_dir/bench/auditor_bench_tool
for b in "$auditor_bin" "$tool"; do [[ -x $b ]] || die "$b is missing: build first"; done
bash "$root/scripts/kafka.sh" start >&2

run_id=$(date +%m%d%H%M%S)-$$
prefix=bench-restore-$run_id
input=$prefix-ticks
work=$build_dir/bench-work/$prefix
mkdir -p "$work"
pid=
measured=
groups=()
cleanup() {
    local status=$?
    [[ -n $pid ]] && kill -KILL "$pid" 2>/dev/null || true
    local args=() g
    for g in "${groups[@]}"; do args+=(--group "$g"); done
    "$tool" delete --bootstrap-servers "$bootstrap" --topic-prefix "$prefix" "${args[@]}" \
        >/dev/null 2>&1 || say "could not delete topics $prefix-*"
    ((status == 0)) && rm -rf "$work"
    ((status == 0)) || say "failed: work dir kept: $work"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now_ns() { date +%s%N; }
field() {
    [[ $2 =~ (^|[[:space:]])$1=([^[:space:]]*) ]] || die "no $1 in: $2"
    echo "${BASH_REMATCH[2]}"
}

say "preloading $input: $ticks ticks, $keys keys (uniform), 1 partition, span $span"
"$tool" load --bootstrap-servers "$bootstrap" --topic "$input" --ticks "$ticks" --keys "$keys" \
    --skew 0 --partitions 1 --span "$span" --bad-share 0 --truth "$work/expected.txt" \
    >"$work/load.out" || die "preload failed"
windows=$(field windows "$(grep '^RESULT ' "$work/load.out" | tail -n 1)")
say "$windows windows in the one task"

# start NAME APP STATE LOG: starts the contender in the background, pid in $pid.
start() {
    local name=$1 app=$2 state=$3 log=$4
    case $name in
        auditor)
            "$auditor_bin" worker --bootstrap-servers "$bootstrap" --application-id "$app" \
                --input-topic "$input" --output-topic "$app-rollups" --dlq-topic "$app-dlq" \
                --state-dir "$state" --http-port 0 --grace 6h --commit-interval 1s \
                --guarantee exactly-once --partitions 1 >>"$log" 2>&1 &
            ;;
        kstreams)
            java -cp "$ks_dir/target/classes:$ks_dir/target/lib/*" Main \
                --bootstrap-servers "$bootstrap" --application-id "$app" \
                --input-topic "$input" --output-topic "$app-rollups" --state-dir "$state" \
                --grace 6h --commit-interval 1s --guarantee exactly-once --partitions 1 \
                >>"$log" 2>&1 &
            ;;
        flink)
            java -cp "$bench_dir/flink/target/classes:$bench_dir/flink/target/lib/*" Main \
                --bootstrap-servers "$bootstrap" --application-id "$app" \
                --input-topic "$input" --output-topic "$app-rollups" --state-dir "$state" \
                --grace 6h --commit-interval 1s --guarantee exactly-once --partitions 1 \
                >>"$log" 2>&1 &
            ;;
    esac
    pid=$!
}

ready_pattern() {
    case $1 in
        auditor) echo 'running from repartition offset' ;;
        kstreams|flink) echo 'RUNNING after' ;;
    esac
}

# measure NAME APP STATE LOG: starts the contender (pid in $pid) and sets $measured to the
# seconds until its log shows it ready for the (n+1)-th time, n being how often it did
# before. Not in a subshell: $pid must reach the caller.
measure() {
    local name=$1 app=$2 state=$3 log=$4 pattern before started now
    pattern=$(ready_pattern "$name")
    before=$(grep -c "$pattern" "$log" 2>/dev/null || true)
    started=$(now_ns)
    start "$name" "$app" "$state" "$log"
    while (($(grep -c "$pattern" "$log" 2>/dev/null || true) <= before)); do
        kill -0 "$pid" 2>/dev/null || die "$name exited while restoring (log: $log)"
        (($(now_ns) - started < 600 * 1000000000)) || die "$name not ready after 600 s"
        sleep 0.05
    done
    now=$(now_ns)
    measured=$(awk -v a="$started" -v b="$now" 'BEGIN { printf "%.2f", (b - a) / 1e9 }')
}

# What the contender says it restored, from its latest ready/restore lines.
restored_records() {
    case $1 in
        auditor) grep -o 'restored [0-9]* changelog records' "$2" | tail -n 1 | awk '{ print $2 }' ;;
        kstreams) grep -o '([0-9]* changelog records restored' "$2" | tail -n 1 | tr -d '(' | awk '{ print $1 }' ;;
    esac
}

results=$work/restore.jsonl
: >"$results"
IFS=, read -r -a lineup <<<"$contenders"
for name in "${lineup[@]}"; do
    app=$prefix-$name state=$work/$name-state log=$work/$name.log
    # auditor's stage 2 (the aggregate task) commits in a group of its own.
    stage2_group=$app
    [[ $name == auditor ]] && stage2_group=$app-aggregate
    groups+=("$app")
    [[ $stage2_group != "$app" ]] && groups+=("$stage2_group")
    # Flink has no repartition topic; wait needs one of the group: an empty placeholder.
    [[ $name == flink ]] && "$tool" create --bootstrap-servers "$bootstrap" \
        --topic "$app-flink-repartition" --partitions 1
    say "$name: processing the input until two thirds are committed, then SIGKILL"
    start "$name" "$app" "$state" "$log"
    "$tool" wait --bootstrap-servers "$bootstrap" --group "$app" --input "$input" --pid "$pid" \
        --started-ns "$(now_ns)" --input-left $((ticks / 3)) >"$work/$name.wait1" ||
        die "$name did not get that far (log: $log)"
    kill -KILL "$pid"; wait "$pid" 2>/dev/null || true; pid=
    sleep 12
    measure "$name" "$app" "$state" "$log"
    crash=$measured
    crash_records=$(restored_records "$name" "$log")
    say "$name: ready after SIGKILL (state kept) after $crash s ($crash_records changelog records)"

    "$tool" wait --bootstrap-servers "$bootstrap" --group "$app" --input "$input" --pid "$pid" \
        --repartition-group "$stage2_group" --started-ns "$(now_ns)" >"$work/$name.wait2" ||
        die "$name did not finish (log: $log)"
    sleep 3  # idle: no transaction open
    kill -TERM "$pid"; wait "$pid" || true; pid=
    rm -rf "$state"
    measure "$name" "$app" "$state" "$log"
    scratch=$measured
    scratch_records=$(restored_records "$name" "$log")
    say "$name: ready from scratch after $scratch s ($scratch_records changelog records)"
    kill -TERM "$pid"; wait "$pid" || true; pid=
    printf '{"contender":"%s","windows":%s,"scratch_s":%s,"scratch_records":%s,"crash_s":%s,"crash_records":%s}\n' \
        "$name" "$windows" "$scratch" "${scratch_records:-null}" "$crash" "${crash_records:-null}" >>"$results"
done

table=$work/restore.md
{
    echo "# Restore benchmark, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo
    echo "Command: \`$command_line\`"
    echo
    echo "One task with $windows window keys at the end ($ticks ticks, $keys keys, span $span, windows 1m,1h,1d), exactly-once. Seconds from starting the process to ready (auditor: task running; Kafka Streams: RUNNING). The SIGKILL comes once two thirds of the input are committed; the restart waits 12 s (session timeout 10 s) first. From scratch: after the whole input, state directory deleted."
    echo
    echo "| contender | from scratch s | records replayed | after SIGKILL s | records replayed |"
    echo "| --- | ---: | ---: | ---: | ---: |"
    while read -r line; do
        python3 -c 'import json,sys; r=json.loads(sys.argv[1]); print("| %s | %s | %s | %s | %s |" % (r["contender"], r["scratch_s"], r["scratch_records"], r["crash_s"], r["crash_records"]))' "$line"
    done <"$results"
    echo
    echo "Machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), load $(cut -d' ' -f1-3 /proc/loadavg); auditor $(git -C "$root" rev-parse --short HEAD)."
} >"$table"
cat "$table"
if ((write_results)); then
    mkdir -p "$bench_dir/results"
    cp "$table" "$bench_dir/results/$results_name.md"
    cp "$results" "$bench_dir/results/$results_name.jsonl"
    say "results: bench/results/$results_name.md"
fi
