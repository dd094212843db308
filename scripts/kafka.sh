#!/usr/bin/env bash
# Local single-node Apache Kafka broker (KRaft, combined broker+controller) for
# development and integration tests of auditor.
#
#   scripts/kafka.sh start    download jars (once), format storage (once), start, wait until ready
#   scripts/kafka.sh stop     stop the broker this script started
#   scripts/kafka.sh status   exit 0 if a broker answers on the client port, 1 otherwise
#   scripts/kafka.sh wait     wait until the broker answers (for scripts that raced a start)
#
#   Any command with --secure (or AUDITOR_KAFKA_SECURE=1) acts on the secured broker instead
#   (Kafka 3.9.1, scripts/kafka/secure-pom.xml says why): a SASL_SSL client listener with SCRAM-SHA-512 users, a local CA made with openssl, and
#   KRaft's StandardAuthorizer with the ACLs of scripts/kafka/secure-acls.txt (README,
#   "Secured Kafka"). Its home, ports, users and client config files:
#     ~/.cache/auditor-kafka-secure, client 127.0.0.1:9192, controller 9193, inter-broker 9194
#     <home>/secure/<user>.conf        `auditor ... --config` file of each user
#     <home>/secure/<user>.password    its password (mode 600), generated on first start
#     <home>/secure/ca.crt             the CA that signed the broker certificate
#   Users: admin (super user), worker, producer (tick-api, generate), reader (rollups,
#   dashboard), reset. The controller listener stays PLAINTEXT on 127.0.0.1.
#
# Environment:
#   AUDITOR_KAFKA_HOME             state dir (default ~/.cache/auditor-kafka): lib/, data/,
#                                  server.properties, kafka.log, kafka.pid, cluster.id
#   AUDITOR_KAFKA_HOST             address it listens on and advertises, default 127.0.0.1
#                                  (tests give another one they made, e.g. for a partition)
#   AUDITOR_KAFKA_PORT             client port, default 9092 (secured: 9192)
#   AUDITOR_KAFKA_CONTROLLER_PORT  KRaft controller port, default 9093 (secured: 9193)
#   AUDITOR_KAFKA_INTERNAL_PORT    secured only: inter-broker listener, default 9194
#   AUDITOR_KAFKA_ACLS             secured only: ACL file applied on every start
#                                  (default scripts/kafka/secure-acls.txt)
#   AUDITOR_KAFKA_WAIT_SECS        how long start/wait wait for readiness, default 90
#
# The jars come from Maven Central (scripts/kafka/pom.xml) rather than the release
# tarball because Maven Central is what this environment can reach.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
POM=$SCRIPT_DIR/kafka/pom.xml
LOG4J_CONFIG=$SCRIPT_DIR/kafka/log4j2.properties

COMMAND=${1:-}
SECURE=${AUDITOR_KAFKA_SECURE:-0}
if [[ ${2:-} == --secure ]]; then
    SECURE=1
elif [[ -n ${2:-} ]]; then
    echo "usage: $0 {start|stop|status|wait} [--secure]" >&2
    exit 2
fi
[[ $SECURE == 1 ]] || SECURE=0

# Kept outside the repo: ~100 MB of jars and broker data must not end up in git. The
# secured broker has its own home and ports, so both can run side by side.
if ((SECURE)); then
    KAFKA_HOME=${AUDITOR_KAFKA_HOME:-${HOME:?}/.cache/auditor-kafka-secure}
    PORT=${AUDITOR_KAFKA_PORT:-9192}
    CONTROLLER_PORT=${AUDITOR_KAFKA_CONTROLLER_PORT:-9193}
    INTERNAL_PORT=${AUDITOR_KAFKA_INTERNAL_PORT:-9194}
else
    KAFKA_HOME=${AUDITOR_KAFKA_HOME:-${HOME:?}/.cache/auditor-kafka}
    PORT=${AUDITOR_KAFKA_PORT:-9092}
    CONTROLLER_PORT=${AUDITOR_KAFKA_CONTROLLER_PORT:-9093}
fi
HOST=${AUDITOR_KAFKA_HOST:-127.0.0.1}
WAIT_SECS=${AUDITOR_KAFKA_WAIT_SECS:-90}

LIB=$KAFKA_HOME/lib
LIB_MARKER=$LIB/.complete
PROPS=$KAFKA_HOME/server.properties
LOG=$KAFKA_HOME/kafka.log
PIDFILE=$KAFKA_HOME/kafka.pid
CLUSTER_ID_FILE=$KAFKA_HOME/cluster.id
SECURE_DIR=$KAFKA_HOME/secure

JAVA=${JAVA:-java}
# Same GC settings as Kafka's bin/kafka-run-class.sh (KAFKA_JVM_PERFORMANCE_OPTS), smaller heap.
JVM_OPTS=(-Xms512m -Xmx1g -XX:+UseG1GC -XX:MaxGCPauseMillis=20
          -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent
          -Djava.awt.headless=true "-Dlog4j2.configurationFile=$LOG4J_CONFIG")

say() { echo "kafka.sh: $*"; }
die() { echo "kafka.sh: error: $*" >&2; exit 1; }

# The secured broker's CA, certificate, users, listeners and ACLs.
# shellcheck source=kafka/secure.sh
if ((SECURE)); then source "$SCRIPT_DIR/kafka/secure.sh"; fi

# True when something accepts TCP connections on the client port. Kafka opens the
# client listener only after the broker is unfenced and ready to serve, so this is
# a real readiness signal, not just "the JVM is up".
port_open() {
    timeout 2 bash -c "exec 3<>/dev/tcp/$HOST/$PORT" 2>/dev/null
}

# Pid from the pid file, only if that process is still our broker. Checking the
# command line guards against a stale pid file whose pid was reused by something else.
broker_pid() {
    local pid
    [[ -f $PIDFILE ]] || return 1
    pid=$(<"$PIDFILE")
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'kafka\.Kafka' || return 1
    echo "$pid"
}

# Serialises start/stop so two concurrent callers (e.g. parallel test runs) cannot
# launch two brokers on one data dir. Released when this script exits.
take_lock() {
    mkdir -p "$KAFKA_HOME"
    exec 9>"$KAFKA_HOME/.lock"
    flock 9
}

# Fetch the broker jars once. The marker records which pom produced lib/, so an
# interrupted download (no marker) or a version bump in the pom (other hash) refetches.
ensure_jars() {
    local want
    want=$(sha256sum "$POM" | cut -d' ' -f1)
    if [[ -f $LIB_MARKER && $(<"$LIB_MARKER") == "$want" ]]; then
        return 0
    fi
    command -v mvn >/dev/null || die "mvn not found; it is needed once to download the Kafka jars"
    say "downloading Kafka jars from Maven Central into $LIB (first run only)..."
    # Into a scratch dir, then renamed: lib/ never holds a mix of two versions.
    rm -rf "$LIB.partial"
    # Debian's Maven 3.8 writes ANSI reset codes even with -B and redirected output;
    # strip them. pipefail keeps mvn's exit status.
    mvn -q -B -f "$POM" dependency:copy-dependencies \
        -DincludeScope=runtime -DoutputDirectory="$LIB.partial" 2>&1 \
        | sed -u 's/\x1b\[[0-9;]*m//g' \
        || die "mvn dependency:copy-dependencies failed (see output above)"
    rm -rf "$LIB"
    mv "$LIB.partial" "$LIB"
    echo "$want" >"$LIB_MARKER"
    say "jars ready ($(find "$LIB" -name '*.jar' | wc -l) jars)"
}

plain_listener_properties() {
    cat <<EOF
listeners=PLAINTEXT://$HOST:$PORT,CONTROLLER://$HOST:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$HOST:$PORT
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
EOF
}

# Regenerated on every start so port overrides and edits below always take effect;
# nothing in it is tied to the formatted storage except log.dirs.
write_properties() {
    local data_dir=$1
    cat >"$PROPS" <<EOF
# Generated by scripts/kafka.sh on every start; edit the script, not this file.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$HOST:$CONTROLLER_PORT
controller.listener.names=CONTROLLER
log.dirs=$data_dir
$(if ((SECURE)); then secure_listener_properties; else plain_listener_properties; fi)

# One node: internal topics must not ask for 3 replicas / min.isr 2, or group
# commits and transactions hang. Fewer internal partitions make startup faster.
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1

# Tests should not wait the default 3 s for a first rebalance.
group.initial.rebalance.delay.ms=0

# Topics are created explicitly by the application / tests, never by accident.
num.partitions=6
auto.create.topics.enable=false

# Lets compaction tests observe the cleaner within seconds (default 15 s).
log.cleaner.backoff.ms=1000
EOF
}

# Format storage on first start. The cluster id is kept so restarts reuse the same
# metadata; each id gets its own data dir because Kafka refuses to re-format a dir
# that already belongs to a cluster.
ensure_storage() {
    local id data_dir
    if [[ -s $CLUSTER_ID_FILE ]]; then
        id=$(<"$CLUSTER_ID_FILE")
    else
        id=$("$JAVA" "${JVM_OPTS[@]}" -cp "$LIB/*" kafka.tools.StorageTool random-uuid)
        echo "$id" >"$CLUSTER_ID_FILE"
    fi
    data_dir=$KAFKA_HOME/data/$id
    write_properties "$data_dir"
    if [[ ! -f $data_dir/meta.properties ]]; then
        # A dir without meta.properties is a format that died half-way; start clean.
        rm -rf "$data_dir"
        say "formatting storage for cluster id $id in $data_dir"
        # No --standalone: the quorum is static (controller.quorum.voters), and
        # Kafka 4.x rejects --standalone together with static voters.
        # The secured broker's SCRAM users exist from the first start on (KIP-900:
        # bootstrapped into the metadata at format time, no broker needed to add them).
        local scram=()
        if ((SECURE)); then mapfile -t scram < <(scram_format_arguments); fi
        "$JAVA" "${JVM_OPTS[@]}" -cp "$LIB/*" kafka.tools.StorageTool \
            format -t "$id" -c "$PROPS" "${scram[@]}" \
            || die "storage format failed"
    fi
}

# The cause of a failed start is usually the first ERROR, followed by a long stack
# trace, so show those lines before the tail of the log.
show_log() {
    {
        echo "kafka.sh: first errors in $LOG:"
        grep -m 6 -E ' ERROR |^Caused by:|Exception: ' "$LOG" || echo "(none)"
        echo "kafka.sh: last lines of $LOG:"
        tail -n 15 "$LOG"
    } >&2 || true
}

# Wait for readiness; also gives up early if the JVM died (no point waiting 90 s).
wait_ready() {
    local pid deadline=$((SECONDS + WAIT_SECS))
    while ((SECONDS < deadline)); do
        if port_open; then
            return 0
        fi
        if [[ -f $PIDFILE ]] && ! broker_pid >/dev/null; then
            echo "kafka.sh: error: broker process exited during startup" >&2
            show_log
            rm -f "$PIDFILE"
            return 1
        fi
        sleep 0.5
    done
    echo "kafka.sh: error: broker did not accept connections on $HOST:$PORT within ${WAIT_SECS}s" >&2
    show_log
    if pid=$(broker_pid); then
        echo "kafka.sh: the broker (pid $pid) is still running; 'scripts/kafka.sh stop' to kill it" >&2
    fi
    return 1
}

cmd_start() {
    take_lock
    if port_open; then
        say "a broker already answers on $HOST:$PORT; nothing to do"
        return 0
    fi
    local pid
    if pid=$(broker_pid); then
        # Launched earlier (or by a concurrent caller) but not ready yet: don't start a second one.
        say "broker (pid $pid) is still starting; waiting"
    else
        command -v "$JAVA" >/dev/null || die "java not found (Kafka 4.x needs Java 17+)"
        ensure_jars
        if ((SECURE)); then ensure_secure_material; fi
        ensure_storage
        [[ -f $LOG ]] && mv -f "$LOG" "$LOG.prev"
        say "starting Kafka on $HOST:$PORT (controller $HOST:$CONTROLLER_PORT)"
        # setsid + nohup: the broker must outlive this shell and the terminal or CI step
        # that ran it. 9>&- so the broker does not inherit (and hold forever) the lock.
        setsid nohup "$JAVA" "${JVM_OPTS[@]}" -cp "$LIB/*" kafka.Kafka "$PROPS" \
            >"$LOG" 2>&1 </dev/null 9>&- &
        echo $! >"$PIDFILE"
        pid=$!
    fi
    local t0=$SECONDS
    wait_ready || exit 1
    say "broker ready on $HOST:$PORT (pid $pid, ready after $((SECONDS - t0))s); log: $LOG"
    if ((SECURE)); then
        apply_acls || exit 1
        say "SASL_SSL on $HOST:$PORT; client config files: $SECURE_DIR/<user>.conf"
    fi
}

cmd_stop() {
    take_lock
    local pid
    if ! pid=$(broker_pid); then
        rm -f "$PIDFILE"
        if port_open; then
            die "something answers on $HOST:$PORT but it was not started by this script (no live pid in $PIDFILE); not touching it"
        fi
        say "not running"
        return 0
    fi
    say "stopping broker (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    # A clean shutdown flushes logs and avoids recovery on the next start; give it time.
    local deadline=$((SECONDS + 30))
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do
        sleep 0.5
    done
    if kill -0 "$pid" 2>/dev/null; then
        say "broker did not stop within 30s; killing it"
        kill -KILL "$pid" 2>/dev/null || true
        while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
    fi
    rm -f "$PIDFILE"
    say "stopped"
}

cmd_status() {
    local pid=""
    pid=$(broker_pid) || true
    if port_open; then
        say "running on $HOST:$PORT${pid:+ (pid $pid)}"
        return 0
    fi
    if [[ -n $pid ]]; then
        say "not ready: broker process $pid is alive but $HOST:$PORT does not answer yet (log: $LOG)"
    else
        say "not running"
    fi
    return 1
}

cmd_wait() {
    if ! port_open && ! broker_pid >/dev/null; then
        die "not running (and not starting); run 'scripts/kafka.sh start'"
    fi
    wait_ready || exit 1
    say "broker ready on $HOST:$PORT"
}

case $COMMAND in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    wait) cmd_wait ;;
    *)
        echo "usage: $0 {start|stop|status|wait} [--secure]" >&2
        exit 2
        ;;
esac
