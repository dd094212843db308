import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.Metric;
import org.apache.kafka.common.MetricName;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.KGroupedStream;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.TimeWindows;
import org.apache.kafka.streams.processor.StateRestoreListener;
import org.apache.kafka.streams.processor.TimestampExtractor;
import org.apache.kafka.streams.state.WindowStore;

/**
 * Kafka Streams reference app for bench/run.sh: the job of `auditor worker` (DESIGN.md) in
 * the Kafka Streams DSL. Parse and validate JSON ticks, drop invalid ones, group by
 * (process_name, process_activity), count in tumbling windows with grace, publish every update
 * to its own rollup topic in auditor's key and value format.
 *
 * <pre>
 * java -cp 'target/classes:target/lib/*' Main --application-id X --input-topic T
 *      --output-topic O [--windows 1m,1h,1d] [--grace 30s] [--commit-interval 1s]
 *      [--guarantee exactly-once|at-least-once] [--state-dir DIR] [--threads 1]
 *      [--bootstrap-servers 127.0.0.1:9092]
 * </pre>
 *
 * Runs until SIGTERM/SIGINT (the benchmark driver stops it once the group has consumed and
 * committed all input), then prints one "kstreams: stopped" line with its counters.
 */
public final class Main {
  private static final Map<String, String> DEFAULTS = Map.of(
      "bootstrap-servers", "127.0.0.1:9092",
      "windows", "1m,1h,1d",
      "grace", "30s",
      "commit-interval", "1s",
      "guarantee", "exactly-once",
      "state-dir", "./kstreams-state",
      "threads", "1",
      "partitions", "6");
  private static final Set<String> REQUIRED = Set.of("application-id", "input-topic", "output-topic");

  private Main() {}

  /** Extracts the payload "timestamp"; without one the record timestamp, as auditor does. */
  static final class PayloadTimestampExtractor implements TimestampExtractor {
    @Override
    public long extract(ConsumerRecord<Object, Object> record, long partitionTime) {
      if (record.value() instanceof Tick t && t.valid() && t.timestamp != Tick.NO_TIMESTAMP) {
        return t.timestamp;
      }
      // Invalid ticks are filtered right after the source; any non-negative time will do.
      if (record.value() instanceof Tick t && !t.valid()) return Math.max(partitionTime, 0);
      return record.timestamp();  // negative (no timestamp): Kafka Streams drops the record
    }
  }

  public static void main(String[] args) throws Exception {
    final Map<String, String> o = parseArgs(args);
    final String appId = o.get("application-id");
    final String output = o.get("output-topic");
    final long graceMs = parseDuration("--grace", o.get("grace"));
    final long commitMs = parseDuration("--commit-interval", o.get("commit-interval"));
    final String guarantee = switch (o.get("guarantee")) {
      case "exactly-once" -> StreamsConfig.EXACTLY_ONCE_V2;
      case "at-least-once" -> StreamsConfig.AT_LEAST_ONCE;
      default -> throw usage("--guarantee: exactly-once or at-least-once");
    };

    final Properties props = new Properties();
    props.put(StreamsConfig.APPLICATION_ID_CONFIG, appId);
    props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, o.get("bootstrap-servers"));
    props.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, guarantee);
    // Kafka Streams' defaults are 30 s (100 ms under exactly_once_v2): use auditor's.
    props.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, Long.toString(commitMs));
    props.put(StreamsConfig.STATE_DIR_CONFIG, o.get("state-dir"));
    props.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, o.get("threads"));
    // One repartition topic for the three window sizes (the named grouping reuses it anyway).
    props.put(StreamsConfig.TOPOLOGY_OPTIMIZATION_CONFIG, StreamsConfig.OPTIMIZE);
    // auditor's session timeout (Kafka's default is 45 s): after a crash both leave the
    // group equally fast, so the restore benchmark compares restores, not timeouts.
    props.put(StreamsConfig.consumerPrefix(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG), "10000");
    // Everything else (record cache 10 MiB, max.poll.records, linger.ms, ...) stays at
    // Kafka Streams' defaults: the reference is what a user gets out of the box.

    ensureOutputTopic(o.get("bootstrap-servers"), output, Integer.parseInt(o.get("partitions")));

    final StreamsBuilder builder = new StreamsBuilder();
    final KStream<byte[], Tick> ticks = builder.stream(o.get("input-topic"),
        Consumed.with(Serdes.ByteArray(), Codecs.tickSerde())
            .withTimestampExtractor(new PayloadTimestampExtractor()));
    final KGroupedStream<Codecs.GroupKey, Long> grouped = ticks
        .filter((k, t) -> t.valid())
        .map((k, t) -> KeyValue.pair(new Codecs.GroupKey(t.processName, t.processActivity), t.count))
        .groupByKey(Grouped.with("ticks", Codecs.groupKeySerde(), Serdes.Long()));
    final Codecs.Agg zero = new Codecs.Agg(0, 0);
    for (final String window : o.get("windows").split(",")) {
      final long size = parseDuration("--windows", window);
      grouped
          .windowedBy(TimeWindows.ofSizeAndGrace(Duration.ofMillis(size), Duration.ofMillis(graceMs)))
          .aggregate(() -> zero, (k, count, agg) -> new Codecs.Agg(agg.count + count, agg.ticks + 1),
              Materialized.<Codecs.GroupKey, Codecs.Agg, WindowStore<Bytes, byte[]>>as("rollups-" + window)
                  .withKeySerde(Codecs.groupKeySerde())
                  .withValueSerde(Codecs.aggSerde()))
          .toStream()
          .filter((wk, agg) -> agg != null)
          .map((wk, agg) -> KeyValue.pair(
              Codecs.rollupKey(wk.key(), window, wk.window().start()),
              Codecs.rollupValue(wk.key(), window, wk.window().start(), wk.window().end(), agg)))
          .to(output, Produced.with(Serdes.ByteArray(), Serdes.ByteArray()));
    }
    final Topology topology = builder.build(props);
    if (o.containsKey("describe")) System.out.println(topology.describe());

    final long started = System.nanoTime();
    final KafkaStreams streams = new KafkaStreams(topology, props);
    final CountDownLatch stopped = new CountDownLatch(1);
    final AtomicBoolean failed = new AtomicBoolean(false);
    final AtomicLong restored = new AtomicLong();
    streams.setGlobalStateRestoreListener(new StateRestoreListener() {
      @Override
      public void onRestoreStart(TopicPartition tp, String store, long start, long end) {}

      @Override
      public void onBatchRestored(TopicPartition tp, String store, long end, long records) {}

      @Override
      public void onRestoreEnd(TopicPartition tp, String store, long total) {
        restored.addAndGet(total);
      }
    });
    streams.setStateListener((now, before) -> {
      if (now == KafkaStreams.State.RUNNING) {
        say(String.format("RUNNING after %.1f s (%d changelog records restored so far)",
            (System.nanoTime() - started) / 1e9, restored.get()));
      } else if (now == KafkaStreams.State.ERROR || now == KafkaStreams.State.NOT_RUNNING) {
        if (now == KafkaStreams.State.ERROR) failed.set(true);
        stopped.countDown();
      }
    });
    streams.setUncaughtExceptionHandler(e -> {
      System.err.println("kstreams: fatal: " + e);
      failed.set(true);
      return StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
    });
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      // Task metrics disappear with the tasks: read them before closing.
      final long dropped = sumMetric(streams, "dropped-records-total");
      streams.close(Duration.ofSeconds(60));
      say(String.format("stopped: %d valid ticks, %d invalid, %d dropped (late or no timestamp)",
          TickParser.VALID.sum(), TickParser.INVALID.sum(), dropped));
      System.out.flush();
    }, "kstreams-shutdown"));
    streams.start();
    say("started: group " + appId + ", guarantee " + guarantee + ", windows " + o.get("windows")
        + ", grace " + o.get("grace") + ", commit interval " + o.get("commit-interval"));
    stopped.await();
    if (failed.get()) {
      System.err.println("kstreams: stopped after an error");
      Runtime.getRuntime().halt(1);
    }
  }

  private static long sumMetric(KafkaStreams streams, String name) {
    double sum = 0;
    for (final Map.Entry<MetricName, ? extends Metric> e : streams.metrics().entrySet()) {
      if (e.getKey().name().equals(name) && e.getValue().metricValue() instanceof Double d
          && !d.isNaN()) {
        sum += d;
      }
    }
    return (long) sum;
  }

  /** Like auditor: the rollup topic is created compacted (plus 7 days retention) when absent. */
  private static void ensureOutputTopic(String bootstrap, String topic, int partitions)
      throws InterruptedException, ExecutionException {
    final Properties p = new Properties();
    p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    try (Admin admin = Admin.create(p)) {
      final NewTopic t = new NewTopic(topic, partitions, (short) 1).configs(Map.of(
          "cleanup.policy", "compact,delete", "retention.ms", Long.toString(7 * 86_400_000L)));
      admin.createTopics(List.of(t)).all().get();
    } catch (ExecutionException e) {
      if (!(e.getCause() instanceof TopicExistsException)) throw e;
    }
  }

  private static void say(String line) {
    System.out.println("kstreams: " + Instant.now() + " " + line);
    System.out.flush();
  }

  /** "500ms", "30s", "5m", "1h", "1d", as auditor's command line. */
  static long parseDuration(String option, String text) {
    final String[][] units = {{"ms", "1"}, {"s", "1000"}, {"m", "60000"}, {"h", "3600000"}, {"d", "86400000"}};
    for (final String[] u : units) {
      if (text.endsWith(u[0]) && text.length() > u[0].length()) {
        final String number = text.substring(0, text.length() - u[0].length());
        if (number.chars().allMatch(Character::isDigit)) {
          return Long.parseLong(number) * Long.parseLong(u[1]);
        }
      }
    }
    throw usage(option + ": '" + text + "' is not a duration like 500ms, 30s, 5m, 1h or 1d");
  }

  private static Map<String, String> parseArgs(String[] args) {
    final Map<String, String> o = new HashMap<>(DEFAULTS);
    for (int i = 0; i < args.length; i++) {
      if (!args[i].startsWith("--")) throw usage("unexpected argument '" + args[i] + "'");
      final String key = args[i].substring(2);
      if (key.equals("describe")) {
        o.put(key, "");
      } else if (DEFAULTS.containsKey(key) || REQUIRED.contains(key)) {
        if (i + 1 >= args.length) throw usage("--" + key + " needs a value");
        o.put(key, args[++i]);
      } else {
        throw usage("unknown option --" + key);
      }
    }
    for (final String r : REQUIRED) {
      if (!o.containsKey(r)) throw usage("--" + r + " is required");
    }
    return o;
  }

  private static IllegalArgumentException usage(String message) {
    System.err.println("kstreams: " + message);
    System.exit(2);
    return new IllegalArgumentException(message);
  }
}
