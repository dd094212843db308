"""Quix Streams contender for bench/run.sh: the job of `auditor worker` (DESIGN.md) in Quix
Streams, as bench/kstreams does it in Kafka Streams.

Parse and validate JSON ticks (tick.py: auditor's rules), count and drop invalid ones,
group_by (process_name, process_activity), count in event-time tumbling windows with grace
(one branch per window size), publish every update (`.current()`) to its own rollup topic in
auditor's key and value format.

    python main.py --application-id X --input-topic T --output-topic O [--windows 1m,1h,1d]
        [--grace 30s] [--commit-interval 1s] [--guarantee exactly-once|at-least-once]
        [--state-dir DIR] [--partitions 6] [--bootstrap-servers 127.0.0.1:9092]

Runs until SIGTERM/SIGINT (the benchmark driver stops it once the group has consumed and
committed all input), then prints one "quix: ... stopped" line with its counters.
"""

import argparse
import logging
import os
import sys
import time
from datetime import datetime, timezone

from quixstreams import Application
from quixstreams.dataframe.windows import Count, Sum
from quixstreams.models import TopicConfig
from quixstreams.models.serializers import Deserializer, Serializer
from quixstreams.models.topics import TopicAdmin, TopicManager

import tick

STARTED = time.monotonic()
VALID = 0
INVALID = 0
DROPPED = 0  # window updates dropped as late (one per tick and window size)


def say(line):
    now = datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    print(f"quix: {now} {line}", flush=True)


def parse_duration(option, text):
    """"500ms", "30s", "5m", "1h", "1d", as auditor's command line."""
    for unit, ms in (("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000), ("d", 86_400_000)):
        number = text[: -len(unit)]
        if text.endswith(unit) and number.isdigit() and number.isascii():
            return int(number) * ms
    raise SystemExit(f"quix: {option}: '{text}' is not a duration like 500ms, 30s, 5m, 1h or 1d")


class BenchTopicManager(TopicManager):
    """Internal topics named <group>-<what>-repartition / -changelog (Kafka Streams' scheme)
    instead of Quix's repartition__<group>--... : bench_tool wait finds an application's
    repartition topics as <group>-*-repartition, and run.sh deletes a run's topics by the
    application id prefix. Only the names differ; Quix's own Quix Cloud topic manager
    overrides the same method."""

    def _internal_name(self, topic_type, topic_name, suffix):
        group = self._consumer_group
        parts = [group]
        if topic_name is not None:
            nested = topic_name
            if nested.startswith(group + "-"):  # one of ours: <group>-<what>-<type>
                nested = nested[len(group) + 1 :].rsplit("-", 1)[0]
            parts.append(nested)
        parts += [suffix, topic_type]
        return "-".join(parts)


class TickDeserializer(Deserializer):
    """Input values: (group key, count, payload timestamp or None), or None if invalid.
    Never raises: an invalid record flows on as None and is counted and dropped by the first
    filter (an ignored message would not have its offset committed)."""

    def __call__(self, value, ctx):
        t = tick.parse(value)
        if t is None:
            return None
        name, activity, count, ts = t
        # Length-prefixed: unambiguous whatever the names hold.
        return (f"{len(name)}:{name}{activity}", count, ts)


def event_time(value, headers, timestamp, timestamp_type):
    """The payload "timestamp"; without one (or for an invalid record) the record's."""
    if value is not None and value[2] is not None:
        return value[2]
    return timestamp


def keep_valid(value):
    global VALID, INVALID
    if value is None:
        INVALID += 1
        return False
    VALID += 1
    return True


class CountSerializer(Serializer):
    """Repartition values: just the count, as decimal text (the key carries the names)."""

    def __call__(self, value, ctx):
        return str(value[1]).encode()


class CountDeserializer(Deserializer):
    def __call__(self, value, ctx):
        return int(value)


class RollupValueSerializer(Serializer):
    """Output records are (key bytes, value bytes) pairs; the key goes through to_topic."""

    def __call__(self, value, ctx):
        return value[1]


_names = {}  # group key -> (quoted process_name, quoted process_activity)


def names_of(key):
    n = _names.get(key)
    if n is None:
        length, rest = key.split(":", 1)
        length = int(length)
        n = _names[key] = (tick.quote(rest[:length]), tick.quote(rest[length:]))
    return n


def rollup_formatter(window):
    """auditor's rollup key and value (tick.rollup_key/rollup_value) from the window result,
    with the quoted names and the window's fields cached (as auditor's RollupFormatter)."""
    spans = {}  # window start -> (',"window":..,"window_start":".."', ',"window_end":".."')

    def format_rollup(result, key, timestamp, headers):
        name, activity = names_of(key)
        start = result["start"]
        span = spans.get(start)
        if span is None:
            if len(spans) > 100_000:
                spans.clear()
            span = spans[start] = (
                ',"window":"' + window + '","window_start":"' + tick.format_rfc3339(start) + '"',
                ',"window_end":"' + tick.format_rfc3339(result["end"]) + '"',
            )
        return (
            ('{"process_activity":' + activity + ',"process_name":' + name + span[0] + "}").encode(),
            ('{"process_name":' + name + ',"process_activity":' + activity + span[0] + span[1]
             + ',"count":' + str(result["count"]) + ',"ticks":' + str(result["ticks"])
             + ',"final":false}').encode(),
        )

    return format_rollup


def on_late(value, key, timestamp_ms, late_by_ms, start, end, name, topic, partition, offset):
    global DROPPED
    DROPPED += 1
    return False  # counted; not logged one by one


def main():
    p = argparse.ArgumentParser(prog="quix", description=__doc__.split("\n\n")[0])
    p.add_argument("--bootstrap-servers", default="127.0.0.1:9092")
    p.add_argument("--application-id", required=True)
    p.add_argument("--input-topic", required=True)
    p.add_argument("--output-topic", required=True)
    p.add_argument("--windows", default="1m,1h,1d")
    p.add_argument("--grace", default="30s")
    p.add_argument("--commit-interval", default="1s")
    p.add_argument("--guarantee", default="exactly-once", choices=["exactly-once", "at-least-once"])
    p.add_argument("--state-dir", default="./quix-state")
    p.add_argument("--partitions", type=int, default=6)
    o = p.parse_args()
    grace_ms = parse_duration("--grace", o.grace)
    commit_ms = parse_duration("--commit-interval", o.commit_interval)
    windows = [(w, parse_duration("--windows", w)) for w in o.windows.split(",")]

    topic_manager = BenchTopicManager(
        topic_admin=TopicAdmin(broker_address=o.bootstrap_servers),
        consumer_group=o.application_id,
    )
    app = Application(
        broker_address=o.bootstrap_servers,
        consumer_group=o.application_id,
        processing_guarantee=o.guarantee,
        commit_interval=commit_ms / 1000,
        auto_offset_reset="earliest",
        state_dir=o.state_dir,
        topic_manager=topic_manager,
        # auditor's and the Kafka Streams app's session timeout (Kafka's default is 45 s).
        consumer_extra_config={"session.timeout.ms": 10000},
        loglevel=os.environ.get("QUIX_LOG_LEVEL", "WARNING"),
    )
    # Everything else (buffer sizes, RocksDB options, producer settings) stays at Quix's
    # defaults: the contender is what a user gets out of the box.
    input_topic = app.topic(
        o.input_topic,
        key_deserializer="bytes",
        value_deserializer=TickDeserializer(),
        timestamp_extractor=event_time,
    )
    # Like auditor: the rollup topic is created compacted (plus 7 days retention).
    output_topic = app.topic(
        o.output_topic,
        key_serializer="bytes",
        value_serializer=RollupValueSerializer(),
        config=TopicConfig(
            num_partitions=o.partitions,
            replication_factor=1,
            extra_config={"cleanup.policy": "compact,delete", "retention.ms": str(7 * 86_400_000)},
        ),
    )

    sdf = app.dataframe(input_topic)
    sdf = sdf.filter(keep_valid)
    grouped = sdf.group_by(
        key=lambda t: t[0],
        name="ticks",
        key_serializer="string",
        key_deserializer="string",
        value_serializer=CountSerializer(),
        value_deserializer=CountDeserializer(),
    )
    for window, size in windows:
        (
            grouped.tumbling_window(
                duration_ms=size, grace_ms=grace_ms, name=f"rollups-{window}", on_late=on_late
            )
            .agg(count=Sum(), ticks=Count())
            .current()
            .apply(rollup_formatter(window), metadata=True)
            .to_topic(output_topic, key=lambda kv: kv[0])
        )

    say(
        f"started: group {o.application_id}, guarantee {o.guarantee}, windows {o.windows}, "
        f"grace {o.grace}, commit interval {o.commit_interval}"
    )
    app.run()  # returns after SIGTERM/SIGINT, once the last checkpoint is committed
    say(f"stopped: {VALID} valid ticks, {INVALID} invalid, {DROPPED} dropped (late) "
        f"after {time.monotonic() - STARTED:.1f} s")


if __name__ == "__main__":
    logging.basicConfig(stream=sys.stderr)
    main()
