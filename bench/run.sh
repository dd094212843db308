#!/usr/bin/env bash
# Side-by-side benchmark: raw consumer (the ceiling), auditor, Kafka Streams (the reference),
# Apache Flink (bench/flink) and Quix Streams (bench/quix) on the same broker, machine and
# data. See bench/README.md.
#
#   bench/run.sh                       5,000,000 ticks, 3 rounds, exactly-once
#   bench/run.sh --quick               20,000 ticks, 1 round: a smoke test of all five (under 2 minutes)
#   bench/run.sh --ticks 1000000 --rounds 2 --guarantee both
#
# What it does:
#   1. builds auditor, the C++ helpers (CMake) and the Kafka Streams app (Maven) if needed;
#   2. preloads a fresh input topic once (bench_tool load) and writes the expected rollups
#      (a brute-force count of the generated ticks, using auditor's parser for validity);
#   3. runs each contender from a fresh application until it has consumed and committed all
#      input and its repartition topic (bench_tool wait; auditor's stage 2 commits in group
#      <app>-aggregate), rounds alternating the order; records wall time, CPU seconds
#      (user+sys) and peak RSS of its process(es);
#   4. stops it (SIGTERM), reads its rollup topic and compares every window's latest
#      (count, ticks) with the expected values: auditor and Kafka Streams must agree;
#   5. prints the table (medians, ratios) and writes bench/results/<date>.json and .md.
#
# Options (defaults in brackets):
#   --ticks N [5000000]      --keys K [10000]      --skew S [1.0]      --partitions P [6]
#   --rounds R [3]           --span D [3h]: event times spread evenly over the last D
#   --grace D [30s]: auditor's grace (its default)    --kstreams-grace D [6h]
#   --quix-grace D [6h]: the Quix Streams app's grace (see bench/README.md)
#   --bad-share F [0.001]: share of invalid records
#   --guarantee exactly-once|at-least-once|both [exactly-once]
#   --contenders LIST [raw,auditor,kstreams,flink,quix]
#   --replicas LIST [1]      e.g. 1,2,3: also run auditor and Kafka Streams as N replicas
#                            in one application (scale mode; CPU and RSS are summed over
#                            replicas; reports ticks per CPU-s against 1 replica and the
#                            input partitions + aggregate tasks each auditor replica held)
#   --mode throughput|latency|all [throughput]
#   --latency-rate R [50000] --latency-duration D [60s] --latency-warmup D [20s]:
#                            latency mode produces R ticks/s (event time = now, grace
#                            --latency-grace [30s]) and measures p50/p99/max from a probe
#                            tick's produce to its rollup being readable (read_committed),
#                            every contender at --latency-commit-interval [100ms] (Kafka
#                            Streams' exactly-once default; throughput runs use 1s)
#   --memory M [512MiB]      auditor's --memory; each auditor run's peak RSS is checked
#                            against it (+ 10%: allocator and kernel slack, stated in bench/README)
#   --profile                perf-record auditor in the last round (flat profile into results)
#   --build-dir DIR [build-bench]   --no-build (use the binaries in --build-dir as they are)
#   --results-name NAME [<date>, or <date>-quick]   --no-results
#   --keep                   keep topics, logs and dumps (work dir under --build-dir)
#   --bootstrap-servers B [127.0.0.1:9092]   --kstreams-java-opts "..." [JVM defaults]
#   --flink-java-opts "..." [JVM defaults]   --flink-parallelism N [1]: the Flink job's
#                            parallelism (one JVM, a local MiniCluster; not run as replicas)
#
# Graces: auditor decides lateness per input partition (docs/event-time.md), so replaying
# the preloaded input as fast as possible makes nothing late at its default 30s: each
# partition is in event-time order. Kafka Streams' stream time is per task over merged
# partitions, so at 30s it would drop ticks depending on how it happened to interleave
# them; it gets a grace longer than the span (6h) so that both must match the same truth
# (bench_tool load computes it with the per-partition rule at auditor's grace).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bench_dir=$root/bench
started_epoch=$(date +%s)
command_line="bench/run.sh $*"

ticks=5000000
keys=10000
skew=1.0
partitions=6
rounds=3
span=3h
grace=30s
kstreams_grace=6h
quix_grace=6h  # quix: per-key stream time after a repartition, as Kafka Streams (README)
bad_share=0.001
guarantee=exactly-once
contenders=raw,auditor,kstreams,flink,quix
profile=0
build_dir=$root/build-bench
build=1
results_name=
write_results=1
keep=0
bootstrap=127.0.0.1:9092
ks_java_opts=
# --- flink ---
flink_java_opts=
flink_parallelism=
# --- end flink ---
quick=0
replicas=1
mode=throughput
latency_rate=50000
latency_duration=60s
latency_warmup=20s
latency_grace=30s
latency_commit_interval=100ms
commit_interval=1s  # what start_replica passes; run_latency switches it
memory=512MiB

say() { echo "run.sh: $*" >&2; }
die() { echo "run.sh: error: $*" >&2; exit 1; }

while (($#)); do
    case $1 in
        --quick) quick=1; ticks=20000; keys=1000; rounds=1; shift ;;
        --ticks) ticks=$2; shift 2 ;;
        --keys) keys=$2; shift 2 ;;
        --skew) skew=$2; shift 2 ;;
        --partitions) partitions=$2; shift 2 ;;
        --rounds) rounds=$2; shift 2 ;;
        --span) span=$2; shift 2 ;;
        --grace) grace=$2; shift 2 ;;
        --kstreams-grace) kstreams_grace=$2; shift 2 ;;
        --quix-grace) quix_grace=$2; shift 2 ;;  # quix
        --bad-share) bad_share=$2; shift 2 ;;
        --guarantee) guarantee=$2; shift 2 ;;
        --contenders) contenders=$2; shift 2 ;;
        --profile) profile=1; shift ;;
        --replicas) replicas=$2; shift 2 ;;
        --mode) mode=$2; shift 2 ;;
        --latency-rate) latency_rate=$2; shift 2 ;;
        --latency-duration) latency_duration=$2; shift 2 ;;
        --latency-warmup) latency_warmup=$2; shift 2 ;;
        --latency-grace) latency_grace=$2; shift 2 ;;
        --latency-commit-interval) latency_commit_interval=$2; shift 2 ;;
        --memory) memory=$2; shift 2 ;;
        --build-dir) build_dir=$(cd "$2" 2>/dev/null && pwd || echo "$2"); shift 2 ;;
        --no-build) build=0; shift ;;
        --results-name) results_name=$2; shift 2 ;;
        --no-results) write_results=0; shift ;;
        --keep) keep=1; shift ;;
        --bootstrap-servers) bootstrap=$2; shift 2 ;;
        --kstreams-java-opts) ks_java_opts=$2; shift 2 ;;
        --flink-java-opts) flink_java_opts=$2; shift 2 ;;  # flink
        --flink-parallelism) flink_parallelism=$2; shift 2 ;;  # flink
        -h|--help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown option $1 (see --help)" ;;
    esac
done
[[ $ticks =~ ^[0-9]+$ && $ticks -gt 0 ]] || die "--ticks: a positive integer"
[[ $rounds =~ ^[0-9]+$ && $rounds -gt 0 ]] || die "--rounds: a positive integer"
case $guarantee in
    exactly-once) guarantees=(exactly-once) ;;
    at-least-once) guarantees=(at-least-once) ;;
    both) guarantees=(exactly-once at-least-once) ;;
    *) die "--guarantee: exactly-once, at-least-once or both" ;;
esac

case $mode in throughput|latency|all) ;; *) die "--mode: throughput, latency or all" ;; esac
IFS=, read -r -a replica_counts <<<"$replicas"
for n in "${replica_counts[@]}"; do
    [[ $n =~ ^[1-9]$ ]] || die "--replicas: counts between 1 and 9, e.g. 1,2,3"
done


# Contender names as they appear in the table: auditor/kstreams run under exactly-once,
# the -alos variants under at-least-once; "@N" means N replicas in one group.
lineup=()
IFS=, read -r -a wanted <<<"$contenders"
for c in "${wanted[@]}"; do
    case $c in
        raw) lineup+=(raw) ;;
        auditor|kstreams|quix)
            for g in "${guarantees[@]}"; do
                for n in "${replica_counts[@]}"; do
                    name=$c
                    [[ $g == at-least-once ]] && name+=-alos
                    ((n > 1)) && name+=@$n
                    lineup+=("$name")
                done
            done ;;
        # --- flink --- One JVM per run (a local MiniCluster): replicas of separate Flink
        # jobs would each read every partition, so no "@N" (--flink-parallelism scales it).
        flink)
            for g in "${guarantees[@]}"; do
                name=flink
                [[ $g == at-least-once ]] && name+=-alos
                lineup+=("$name")
            done ;;
        # --- end flink ---
        *) die "--contenders: raw, auditor, kstreams, flink, quix" ;;
    esac
done
((${#lineup[@]} > 0)) || die "--contenders: nothing to run"

# ---------------------------------------------------------------------------------------
# Build

ks_dir=$bench_dir/kstreams
if ((build)); then
    say "building auditor and the benchmark tools in $build_dir"
    cmake -S "$root" -B "$build_dir" -G Ninja >/dev/null
    cmake --build "$build_dir" --target auditor auditor_bench_tool auditor_bench_raw_consumer
fi
auditor_bin=$build_dir/worker/auditor
tool=$build_dir/bench/auditor_bench_tool
raw_bin=$build_dir/bench/auditor_bench_raw_consumer
for b in "$auditor_bin" "$tool" "$raw_bin"; do
    [[ -x $b ]] || die "$b is missing: build first (drop --no-build, or pass --build-dir)"
done
# `build_java_app DIR WHAT`: builds the Maven project in DIR (the Kafka Streams app, the
# Flink job) when a source, the shared parser (java-common) or the pom is newer than its
# compiled classes.
build_java_app() {
    local dir=$1 what=$2
    if [[ ! -f $dir/target/classes/Main.class || ! -d $dir/target/lib ]] ||
        [[ -n $(find "$dir/pom.xml" "$dir/src" "$bench_dir/java-common/src" \
            -newer "$dir/target/classes/Main.class" -type f) ]]; then
        command -v mvn >/dev/null || die "mvn is needed to build $what (apt-get install maven)"
        say "building $what (Maven)"
        # Debian's Maven prints ANSI codes even in batch mode; strip them.
        (cd "$dir" && mvn -q -B package 2>&1 | sed -u 's/\x1b\[[0-9;]*m//g') ||
            die "Maven build of ${dir#"$root"/} failed"
    fi
    command -v java >/dev/null || die "java (17+) is needed for $what"
}
flink_dir=$bench_dir/flink
if [[ " ${lineup[*]} " == *" kstreams"* ]]; then build_java_app "$ks_dir" "the Kafka Streams reference app"; fi
if [[ " ${lineup[*]} " == *" flink"* ]]; then build_java_app "$flink_dir" "the Flink job"; fi

# --- quix: the Quix Streams app (bench/quix) runs in a venv made on first use -----------
quix_dir=$bench_dir/quix
quix_python=
if [[ " ${lineup[*]} " == *" quix"* ]]; then
    quix_python=$(bash "$quix_dir/setup.sh") || die "installing Quix Streams (bench/quix/setup.sh) failed"
fi
# --- end quix ---------------------------------------------------------------------------

bash "$root/scripts/kafka.sh" start >&2

# ---------------------------------------------------------------------------------------
# Work area and cleanup

# What is measured: the sources as of now and the binary actually run (with --no-build it
# may be older than the sources).
git_rev=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
[[ -n $(git -C "$root" status --porcelain -- worker topology state 2>/dev/null) ]] && git_rev="$git_rev+uncommitted"
auditor_built=$(date -u -r "$auditor_bin" +%Y-%m-%dT%H:%M:%SZ)

run_id=$(date +%m%d%H%M%S)-$$
prefix=bench-$run_id
input=$prefix-ticks
work=$build_dir/bench-work/$run_id
mkdir -p "$work"
runs_jsonl=$work/runs.jsonl
: >"$runs_jsonl"
groups_used=()
contender_pids=()
started_pid=
perf_pid=
latency_jsonl=$work/latency.jsonl
: >"$latency_jsonl"
mode_throughput=1
[[ $mode == latency ]] && mode_throughput=0

# The run's topics and consumer groups (all named bench-<run id>-...).
# shellcheck disable=SC2317  # called from cleanup (the EXIT trap)
delete_run_topics() {
    local group_args=() g
    for g in "${groups_used[@]}"; do group_args+=(--group "$g"); done
    "$tool" delete --bootstrap-servers "$bootstrap" --topic-prefix "$prefix" \
        "${group_args[@]}" >/dev/null 2>&1 || say "could not delete topics $prefix-*"
}

# shellcheck disable=SC2317  # invoked through the EXIT trap
cleanup() {
    local status=$?
    # Only processes this script started, by pid.
    if [[ -n $perf_pid ]] && kill -0 "$perf_pid" 2>/dev/null; then kill -INT "$perf_pid" 2>/dev/null || true; fi
    local pid
    for pid in "${contender_pids[@]}"; do
        if kill -0 "$pid" 2>/dev/null; then
            say "stopping contender pid $pid"
            kill -TERM "$pid" 2>/dev/null || true
            sleep 2
            kill -KILL "$pid" 2>/dev/null || true
        fi
    done
    if ((keep)); then
        say "kept: topics $prefix-*, work dir $work"
    elif ((status != 0)); then
        # Logs and the per-run numbers are the evidence of what went wrong: keep them.
        say "failed (exit $status): work dir kept for inspection: $work"
        delete_run_topics
    else
        delete_run_topics
        rm -rf "$work"
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# `field KEY LINE`: the value of KEY=value in a RESULT line.
field() {
    [[ $2 =~ (^|[[:space:]])$1=([^[:space:]]*) ]] || die "no $1 in: $2"
    echo "${BASH_REMATCH[2]}"
}
result_of() { grep '^RESULT ' "$1" | tail -n 1; }
now_ns() { date +%s%N; }

# ---------------------------------------------------------------------------------------
# Preload

expected_invalid=0
expected_windows=0
if ((mode_throughput)); then
    say "preloading $input: $ticks ticks, $keys keys (Zipf $skew), $partitions partitions, span $span, bad share $bad_share"
    "$tool" load --bootstrap-servers "$bootstrap" --topic "$input" --ticks "$ticks" --keys "$keys" \
        --skew "$skew" --partitions "$partitions" --span "$span" --bad-share "$bad_share" \
        --grace "$grace" --truth "$work/expected.txt" >"$work/load.out" || die "preload failed"
    load_result=$(result_of "$work/load.out")
    expected_invalid=$(field invalid "$load_result")
    expected_windows=$(field windows "$load_result")
    say "preloaded in $(field seconds "$load_result") s: $(field valid "$load_result") valid, $expected_invalid invalid, $expected_windows windows expected"
fi

# ---------------------------------------------------------------------------------------
# Contenders

mismatches=0

# Compares a contender's rollup dump with the expected windows.
check_rollups() {
    local name=$1 dump=$2
    if cmp -s "$dump" "$work/expected.txt"; then
        echo ok
    else
        say "$name: rollups differ from the expected values (first differences below; < expected, > $name)"
        diff "$work/expected.txt" "$dump" | head -n 10 >&2 || true
        echo mismatch
    fi
}

# contender round wall cpu rss check late invalid
#   [commits commit_s jit_cpu replicas-json input-partitions repartition-partitions]
record_run() {
    printf '{"contender":"%s","round":%d,"wall_s":%s,"cpu_s":%s,"rss_kb":%s,"check":"%s","late":%s,"invalid":%s,"commits":%s,"commit_s":%s,"jit_cpu_s":%s,"replicas":%s,"input_partitions":%s,"repartition_partitions":%s}\n' \
        "$1" "$2" "$3" "$4" "$5" "$6" "$7" "$8" "${9:-null}" "${10:-null}" "${11:-0}" \
        "${12:-null}" "${13:-null}" "${14:-null}" >>"$runs_jsonl"
}

# An auditor replica's own view, from its Prometheus endpoint (the port its log names; it
# runs with --http-port 0): commits and the time inside them, and what it holds (gauges
# auditor_assigned_input_partitions and auditor_assigned_tasks). Empty when unavailable.
scrape_auditor_metrics() {
    local log=$1 out=$2 port
    port=$(grep -o 'listening on port [0-9]*' "$log" | head -n 1 | awk '{ print $4 }') || true
    if [[ -z $port ]] || ! curl -s --max-time 5 "http://127.0.0.1:$port/metrics" >"$out" 2>/dev/null; then
        : >"$out"
    fi
}
metric_value() {  # name file: the value of an unlabelled metric, or null
    awk -v n="$1" '$1 == n { print $2; found = 1; exit } END { if (!found) print "null" }' "$2"
}
# `nth_csv I LIST`: the I-th (from 1) comma-separated item of LIST, or null.
nth_csv() {
    local items
    IFS=, read -r -a items <<<"$2"
    local v=${items[$1 - 1]:-}
    [[ -n $v ]] && echo "$v" || echo null
}
# `memory_kib 512MiB`: a --memory size in KiB (B, KiB, MiB, GiB).
memory_kib() {
    [[ $1 =~ ^([0-9]+)(B|KiB|MiB|GiB)$ ]] || die "--memory: a size such as 512MiB"
    case ${BASH_REMATCH[2]} in
        B) echo $((BASH_REMATCH[1] / 1024)) ;;
        KiB) echo "${BASH_REMATCH[1]}" ;;
        MiB) echo $((BASH_REMATCH[1] * 1024)) ;;
        GiB) echo $((BASH_REMATCH[1] * 1048576)) ;;
    esac
}
# `sum_values A B`: A + B where null counts as nothing (null + null = null).
sum_values() {
    if [[ $1 == null ]]; then echo "$2"; elif [[ $2 == null ]]; then echo "$1"; else
        awk -v a="$1" -v b="$2" 'BEGIN { print a + b }'
    fi
}

run_raw() {
    local round=$1 group=$prefix-raw-r$1 start end out=$work/raw-r$1.out
    groups_used+=("$group")
    start=$(now_ns)
    "$raw_bin" --bootstrap-servers "$bootstrap" --topic "$input" --group "$group" >"$out" ||
        die "raw consumer failed (output in $out)"
    end=$(now_ns)
    local r
    r=$(result_of "$out")
    [[ $(field records "$r") == "$ticks" ]] || die "raw consumer read $(field records "$r") of $ticks records"
    [[ $(field invalid "$r") == "$expected_invalid" ]] ||
        die "raw consumer found $(field invalid "$r") invalid records, expected $expected_invalid"
    local wall
    wall=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
    record_run raw "$round" "$wall" "$(field cpu_s "$r")" "$(field rss_kb "$r")" n/a 0 "$(field invalid "$r")"
    say "raw r$round: ${wall} s, $(field cpu_s "$r") CPU s, $(field rss_kb "$r") KiB peak RSS"
}

# Starts replica $3 of contender $1 (name without "@N") on input $2; its pid goes to
# $started_pid. Logs and state go to files named after $4 (unique per run and replica).
start_replica() {
    local name=$1 in_topic=$2 replica=$3 tag=$4 app=$5 out_topic=$6 replica_grace=$7
    local g=exactly-once
    [[ $name == *-alos ]] && g=at-least-once
    # Every contender takes the same command line (bench/kstreams' mirrors auditor's).
    local common_args=(--bootstrap-servers "$bootstrap" --application-id "$app"
        --input-topic "$in_topic" --output-topic "$out_topic"
        --state-dir "$work/$tag-state" --grace "$replica_grace"
        --commit-interval "$commit_interval" --guarantee "$g" --partitions "$partitions")
    case $name in
        auditor*)
            "$auditor_bin" worker "${common_args[@]}" --dlq-topic "$app-dlq" --http-port 0 \
                --memory "$memory" >"$work/$tag.log" 2>&1 &
            ;;
        kstreams*)
            # shellcheck disable=SC2086  # the JVM options are words on purpose
            java $ks_java_opts -cp "$ks_dir/target/classes:$ks_dir/target/lib/*" Main \
                "${common_args[@]}" >"$work/$tag.log" 2>&1 &
            ;;
        flink*)
            # shellcheck disable=SC2086  # the JVM options are words on purpose
            java $flink_java_opts -cp "$flink_dir/target/classes:$flink_dir/target/lib/*" Main \
                "${common_args[@]}" ${flink_parallelism:+--parallelism "$flink_parallelism"} \
                >"$work/$tag.log" 2>&1 &
            ;;
        quix*)
            "$quix_python" "$quix_dir/main.py" "${common_args[@]}" >"$work/$tag.log" 2>&1 &
            ;;
    esac
    started_pid=$!
    contender_pids+=("$started_pid")
    : "$replica"
}

# SIGTERM to every replica; a replica that does not exit cleanly fails the run.
stop_replicas() {
    local label=$1 status pid i=0
    for pid in "${contender_pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${contender_pids[@]}"; do
        i=$((i + 1))
        status=0
        wait "$pid" || status=$?
        # The JVM reports SIGTERM as 143 even after a clean shutdown hook.
        if ((status != 0 && status != 143)); then
            say "$label: replica $i (pid $pid) exited with $status after SIGTERM"
            contender_pids=()
            return 1
        fi
    done
    contender_pids=()
}

# Runs auditor or the Kafka Streams app (N replicas for "name@N") until its group has
# consumed and committed everything, then checks its rollups.
run_streams_app() {
    local full=$1 round=$2
    local name=${full%@*} n=1
    [[ $full == *@* ]] && n=${full#*@}
    local app=$prefix-${full/@/-x}-r$round
    local out_topic=$app-rollups tag=${full/@/-x}-r$round
    # auditor balances each stage on its own: stage 1 (input partitions) in group <app>,
    # stage 2 (aggregate tasks = repartition partitions) in <app>-aggregate. Kafka
    # Streams has one group for both.
    local stage2_group=$app
    [[ $name == auditor* ]] && stage2_group=$app-aggregate
    groups_used+=("$app")
    [[ $stage2_group != "$app" ]] && groups_used+=("$stage2_group")
    local start pid_args=() i
    # --- flink --- Flink shuffles over its own network stack, not a repartition topic, but
    # bench_tool wait is done only once a <app>-*-repartition topic is committed to its end
    # in the --repartition-group: an empty placeholder (deleted with the run's topics), so
    # the run ends when the input is committed, i.e. on the checkpoint that covers it.
    if [[ $name == flink* ]]; then
        "$tool" create --bootstrap-servers "$bootstrap" --topic "$app-flink-repartition" --partitions 1
    fi
    # --- end flink ---
    start=$(now_ns)
    for ((i = 1; i <= n; i++)); do
        local replica_grace=$grace
        [[ $name == kstreams ]] && replica_grace=$kstreams_grace
        [[ $name == quix* ]] && replica_grace=$quix_grace  # quix
        start_replica "$name" "$input" "$i" "$tag-$i" "$app" "$out_topic" "$replica_grace"
        pid_args+=(--pid "$started_pid")
    done
    if ((profile)) && [[ $full == auditor && $round == "$rounds" ]]; then
        perf record -F 999 -o "$work/perf.data" -p "${contender_pids[0]}" >/dev/null 2>&1 &
        perf_pid=$!
    fi
    if ! "$tool" wait --bootstrap-servers "$bootstrap" --group "$app" --input "$input" \
        --repartition-group "$stage2_group" "${pid_args[@]}" --started-ns "$start" \
        >"$work/$tag.wait"; then
        say "$full r$round did not finish; last lines of $work/$tag-1.log:"
        tail -n 20 "$work/$tag-1.log" >&2
        die "$full failed"
    fi
    local r
    r=$(result_of "$work/$tag.wait")
    # Every replica's view just before they are stopped (what each holds at the end).
    if [[ $name == auditor* ]]; then
        for ((i = 1; i <= n; i++)); do
            scrape_auditor_metrics "$work/$tag-$i.log" "$work/$tag-$i.metrics"
        done
    fi
    if [[ -n $perf_pid ]]; then
        kill -INT "$perf_pid" 2>/dev/null || true
        wait "$perf_pid" 2>/dev/null || true
        perf_pid=
    fi
    stop_replicas "$full r$round" || { tail -n 20 "$work/$tag-1.log" >&2; die "$full did not stop cleanly"; }

    "$tool" dump --bootstrap-servers "$bootstrap" --topic "$out_topic" --out "$work/$tag.txt" \
        >"$work/$tag.dump" || die "reading $out_topic failed"
    local check late=0 invalid=0
    check=$(check_rollups "$full r$round" "$work/$tag.txt")
    case $name in
        auditor*)
            local d
            "$tool" dlq-stats --bootstrap-servers "$bootstrap" --topic "$app-dlq" >"$work/$tag.dlq"
            d=$(result_of "$work/$tag.dlq")
            late=$(field late "$d")
            invalid=$(field invalid "$d")
            ;;
        kstreams* | flink* | quix*)
            # Each peer's closing line on SIGTERM (Flink's after its final savepoint):
            # "<peer>: <time> stopped: N valid ticks, N invalid, N dropped ..."
            local line peer=${name%-alos}
            invalid=0 late=0
            for ((i = 1; i <= n; i++)); do
                line=$(grep "$peer: .* stopped:" "$work/$tag-$i.log" | tail -n 1) || true
                if [[ $line =~ ([0-9]+)\ invalid,\ ([0-9]+)\ dropped ]]; then
                    invalid=$((invalid + BASH_REMATCH[1]))
                    late=$((late + BASH_REMATCH[2]))
                else
                    say "$full r$round: no '$peer: ... stopped:' line in $work/$tag-$i.log"
                fi
            done
            ;;
    esac
    [[ $invalid == "$expected_invalid" ]] || {
        say "$full r$round: $invalid invalid records, expected $expected_invalid"
        check=mismatch
    }
    ((late == 0)) || say "$full r$round: $late late records (each partition is in event-time order: none may be late)"
    if [[ $check != ok ]]; then
        mismatches=$((mismatches + 1))
        keep=1  # leave the topics and dumps as evidence
    fi
    # Per replica: CPU seconds and peak RSS (sampled by bench_tool wait at the moment it was
    # done; their sums are cpu_s and rss_kb) and, for auditor, the input partitions and
    # aggregate tasks it held. Commits are summed over the replicas.
    local commits=null commit_s=null replicas_json= held= cpu_each= metrics in_parts tasks cpu
    for ((i = 1; i <= n; i++)); do
        metrics=$work/$tag-$i.metrics
        in_parts=null tasks=null
        if [[ -s $metrics ]]; then
            commits=$(sum_values "$commits" "$(metric_value auditor_commit_duration_seconds_count "$metrics")")
            commit_s=$(sum_values "$commit_s" "$(metric_value auditor_commit_duration_seconds_sum "$metrics")")
            in_parts=$(metric_value auditor_assigned_input_partitions "$metrics")
            tasks=$(metric_value auditor_assigned_tasks "$metrics")
        fi
        cpu=$(nth_csv "$i" "$(field cpu_s_each "$r")")
        replicas_json+=${replicas_json:+,}$(printf '{"replica":%d,"cpu_s":%s,"rss_kb":%s,"input_partitions":%s,"tasks":%s}' \
            "$i" "$cpu" "$(nth_csv "$i" "$(field rss_kb_each "$r")")" "$in_parts" "$tasks")
        held+="${held:+, }r$i ${in_parts/null/?}+${tasks/null/?}"
        cpu_each+="${cpu_each:+, }r$i $cpu"
    done
    record_run "$full" "$round" "$(field wall_s "$r")" "$(field cpu_s "$r")" "$(field rss_kb "$r")" \
        "$check" "$late" "$invalid" "$commits" "$commit_s" "$(field jit_cpu_s "$r")" \
        "[$replicas_json]" "$(field input_partitions "$r")" "$(field repartition_partitions "$r")"
    local commit_note=
    [[ $commit_s != null ]] && commit_note=" ($commits commits took $commit_s s)"
    say "$full r$round: $(field wall_s "$r") s, $(field cpu_s "$r") CPU s, $(field rss_kb "$r") KiB peak RSS, rollups $check$commit_note"
    if [[ $name == auditor* ]]; then
        # Each replica's peak RSS against its --memory, with 10% for what no budget sees
        # (allocator slack, kernel page tables). Over it fails the run like a wrong count.
        local allowed_kb rss_each over=0
        allowed_kb=$(( $(memory_kib "$memory") * 11 / 10 ))
        for ((i = 1; i <= n; i++)); do
            rss_each=$(nth_csv "$i" "$(field rss_kb_each "$r")")
            if [[ $rss_each != null ]] && ((rss_each > allowed_kb)); then over=1; fi
        done
        if ((over)); then
            say "$full r$round: peak RSS over --memory $memory + 10% ($allowed_kb KiB)"
            mismatches=$((mismatches + 1))
        else
            say "$full r$round: peak RSS within --memory $memory + 10% ($allowed_kb KiB)"
        fi
    fi
    if ((n > 1)); then
        say "$full r$round: CPU s per replica: $cpu_each"
    fi
    if [[ $name == auditor* ]] && ((n > 1 || ${#replica_counts[@]} > 1)); then
        say "$full r$round: held at the end (input partitions + aggregate tasks): $held"
    fi
    # This round's topics are no longer needed; the broker's disk is.
    ((keep)) || "$tool" delete --bootstrap-servers "$bootstrap" --topic-prefix "$app" \
        --group "$app" --group "$stage2_group" >/dev/null
}

# Latency: the contender runs on a fresh, empty topic while bench_tool latency produces at
# a steady rate and watches the rollups.
run_latency() {
    local name=$1
    local app=$prefix-lat-$name out=$work/latency-$name.out
    local lat_input=$app-ticks
    groups_used+=("$app")
    [[ $name == auditor* ]] && groups_used+=("$app-aggregate")
    # Kafka Streams stops with an error when its input topic is missing: create it first.
    "$tool" create --bootstrap-servers "$bootstrap" --topic "$lat_input" --partitions "$partitions"
    commit_interval=$latency_commit_interval
    start_replica "$name" "$lat_input" 1 "latency-$name" "$app" "$app-rollups" "$latency_grace"
    commit_interval=1s
    if ! "$tool" latency --bootstrap-servers "$bootstrap" --input "$lat_input" --output "$app-rollups" \
        --rate "$latency_rate" --duration "$latency_duration" --warmup "$latency_warmup" \
        --keys "$keys" --skew "$skew" --partitions "$partitions" >"$out"; then
        stop_replicas "latency $name" || true
        tail -n 20 "$work/latency-$name.log" >&2
        die "latency run of $name failed"
    fi
    stop_replicas "latency $name" || die "$name did not stop cleanly after the latency run"
    local r
    r=$(result_of "$out")
    num() { [[ $1 =~ ^[0-9.e+-]+$ ]] && echo "$1" || echo null; }
    printf '{"contender":"%s","rate":%s,"probes":%s,"missing":%s,"p50_ms":%s,"p99_ms":%s,"max_ms":%s}\n' \
        "$name" "$(num "$(field rate "$r")")" "$(field probes "$r")" "$(field missing "$r")" \
        "$(num "$(field p50_ms "$r")")" "$(num "$(field p99_ms "$r")")" "$(num "$(field max_ms "$r")")" \
        >>"$latency_jsonl"
    say "latency $name: p50 $(field p50_ms "$r") ms, p99 $(field p99_ms "$r") ms, max $(field max_ms "$r") ms at $(field rate "$r") ticks/s ($(field missing "$r") probes missing)"
    ((keep)) || "$tool" delete --bootstrap-servers "$bootstrap" --topic-prefix "$app" \
        --group "$app" --group "$app-aggregate" >/dev/null
}

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
((mode_throughput)) || rounds=0
for ((round = 1; round <= rounds; round++)); do
    # Alternate the order so neither side always runs on a warmer (or busier) broker.
    order=("${lineup[@]}")
    if ((round % 2 == 0)); then
        order=()
        for ((i = ${#lineup[@]} - 1; i >= 0; i--)); do order+=("${lineup[i]}"); done
    fi
    say "round $round of $rounds: ${order[*]}"
    for c in "${order[@]}"; do
        if [[ $c == raw ]]; then run_raw "$round"; else run_streams_app "$c" "$round"; fi
    done
done
if [[ $mode != throughput ]]; then
    for c in "${lineup[@]}"; do
        # One replica, each guarantee; the raw consumer has no rollups to wait for.
        [[ $c == raw || $c == *@* ]] && continue
        say "latency: $c at $latency_rate ticks/s for $latency_duration (after $latency_warmup warm-up)"
        run_latency "$c"
    done
fi
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------------------------------
# Report

json_str() { local s=${1//\\/\\\\}; s=${s//\"/\\\"}; printf '"%s"' "$s"; }
cpu_model=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
mem_gib=$(awk '/MemTotal/ { printf "%.1f", $2 / 1048576 }' /proc/meminfo)
kafka_jar=$(find "${AUDITOR_KAFKA_HOME:-$HOME/.cache/auditor-kafka}/lib" -name 'kafka-clients-*.jar' 2>/dev/null | head -n 1)
kafka_version=$(basename "${kafka_jar:-unknown}" .jar); kafka_version=${kafka_version#kafka-clients-}
date_iso=$(date -u +%Y-%m-%dT%H:%M:%SZ)
notes="Wall time runs from starting the contender's process to the moment it has committed all input and repartition records (auditor: input in group <app>, repartition in <app>-aggregate; Kafka Streams: both in <app>; polled every 100 ms), so it includes start-up (JVM, group join, topic creation). CPU seconds and peak RSS (VmHWM) are the contender's process at that moment (summed over replicas; the scale table has each replica's CPU seconds, and the input partitions + aggregate tasks each auditor replica held, from its /metrics just before it was stopped). Kafka Streams runs with its defaults (1 stream thread, 10 MiB record cache, default JVM heap) except commit.interval.ms=1000 and topology.optimization=all. The broker (one JVM) shares the same cores. Load average before/after: $load_start / $load_end."
# --- flink ---
[[ " ${lineup[*]} " == *" flink"* ]] && notes+=" Flink 1.20.3 runs as a local MiniCluster in one JVM (parallelism ${flink_parallelism:-1}), checkpoints every 1 s into RocksDB (incremental), exactly-once Kafka sink, everything else at Flink's defaults; it has no repartition topic (an empty placeholder <app>-flink-repartition lets wait finish when the input is committed, which happens when the checkpoint covering it completes)."
# --- end flink ---
cat >"$work/meta.json" <<EOF
{"date": $(json_str "$date_iso"), "command": $(json_str "$command_line"),
 "ticks": $ticks, "keys": $keys, "skew": $skew, "partitions": $partitions, "rounds": $rounds,
 "span": $(json_str "$span"), "grace": $(json_str "$grace"), "kstreams_grace": $(json_str "$kstreams_grace"), "bad_share": $bad_share,
 "windows": "1m,1h,1d", "expected_windows": $expected_windows, "expected_invalid": $expected_invalid,
 "latency": {"rate": $latency_rate, "duration": $(json_str "$latency_duration"),
   "warmup": $(json_str "$latency_warmup"), "grace": $(json_str "$latency_grace")},
 "machine": {"nproc": $(nproc), "memory_gib": $mem_gib, "cpu": $(json_str "$cpu_model"),
   "kernel": $(json_str "$(uname -r)"), "load_before": $(json_str "$load_start"), "load_after": $(json_str "$load_end")},
 "versions": {"auditor": $(json_str "$git_rev"), "auditor_binary_built": $(json_str "$auditor_built"),
   "kafka": $(json_str "$kafka_version"),
   "librdkafka": $(json_str "$(pkg-config --modversion rdkafka 2>/dev/null || echo unknown)"),
   "java": $(json_str "$(java -version 2>&1 | head -n 1)"),
   "quixstreams": $(json_str "$(sed -n 's/^quixstreams==\([^ ]*\).*/\1/p' "$quix_dir/requirements.txt")")},
 "notes": $(json_str "$notes")}
EOF

if ((write_results)); then
    if [[ -z $results_name ]]; then
        results_name=$(date +%Y-%m-%d)
        ((quick == 0)) || results_name+=-quick
    fi
    mkdir -p "$bench_dir/results"
    out_json=$bench_dir/results/$results_name.json
    out_md=$bench_dir/results/$results_name.md
else
    out_json=$work/results.json
    out_md=$work/results.md
fi
if ((profile)) && [[ -f $work/perf.data ]]; then
    perf report -i "$work/perf.data" --no-children --sort dso,symbol --stdio 2>/dev/null |
        grep -v '^#' | grep -v '^$' | sed 's/[[:space:]-]*$//' | cut -c1-200 | head -n 40 \
        >"${out_md%.md}-auditor-perf.txt" || true
    say "auditor profile (flat, self time, last round; top 25 of ${out_md%.md}-auditor-perf.txt):"
    head -n 25 "${out_md%.md}-auditor-perf.txt" >&2
fi
echo
"$tool" report --runs "$runs_jsonl" --latency "$latency_jsonl" --meta "$work/meta.json" \
    --out-json "$out_json" --out-md "$out_md"
echo
if ((write_results)); then
    say "results: $out_json, $out_md ($(( $(date +%s) - started_epoch )) s in all)"
else
    say "done in $(( $(date +%s) - started_epoch )) s (--no-results: nothing written)"
fi
if ((mismatches > 0)); then
    die "$mismatches run(s) did not produce the expected rollups or went over --memory (work dir kept: $work)"
fi
((mode_throughput)) &&
    say "rollups check: every run of auditor and Kafka Streams equals the expected $expected_windows windows"
exit 0
