import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import java.util.stream.Stream;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.functions.AggregateFunction;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.common.typeinfo.PrimitiveArrayTypeInfo;
import org.apache.flink.api.java.tuple.Tuple2;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.connector.base.DeliveryGuarantee;
import org.apache.flink.connector.kafka.sink.KafkaRecordSerializationSchema;
import org.apache.flink.connector.kafka.sink.KafkaSink;
import org.apache.flink.connector.kafka.source.KafkaSource;
import org.apache.flink.connector.kafka.source.enumerator.initializer.OffsetsInitializer;
import org.apache.flink.connector.kafka.source.reader.deserializer.KafkaRecordDeserializationSchema;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.core.execution.SavepointFormatType;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.datastream.KeyedStream;
import org.apache.flink.streaming.api.datastream.SingleOutputStreamOperator;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.functions.ProcessFunction;
import org.apache.flink.streaming.api.functions.sink.v2.DiscardingSink;
import org.apache.flink.streaming.api.functions.windowing.ProcessWindowFunction;
import org.apache.flink.streaming.api.operators.AbstractStreamOperator;
import org.apache.flink.streaming.api.operators.OneInputStreamOperator;
import org.apache.flink.streaming.api.windowing.assigners.TumblingEventTimeWindows;
import org.apache.flink.streaming.api.windowing.triggers.Trigger;
import org.apache.flink.streaming.api.windowing.triggers.TriggerResult;
import org.apache.flink.streaming.api.windowing.windows.TimeWindow;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.apache.flink.util.Collector;
import org.apache.flink.util.OutputTag;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.errors.TopicExistsException;

/**
 * Apache Flink contender of bench/run.sh: the job of `auditor worker` (DESIGN.md) as a Flink
 * DataStream job on a local MiniCluster (one JVM). Kafka source (read_committed, from the
 * earliest offset, offsets committed to group = application id on each checkpoint), the
 * parsing and validation rules of bench/kstreams (TickParser, Rfc3339, Tick are copies),
 * event time from the payload timestamp else the record timestamp, per-partition monotonous
 * watermarks, keyBy (process_name, process_activity), event-time tumbling windows (1m, 1h,
 * 1d) with the grace as allowed lateness, sum of counts and number of ticks, auditor's rollup
 * format, exactly-once Kafka sink, checkpoints at the commit interval into RocksDB
 * (incremental, under --state-dir).
 *
 * <pre>
 * java -cp 'target/classes:target/lib/*' Main --application-id X --input-topic T
 *      --output-topic O [--windows 1m,1h,1d] [--grace 30s] [--commit-interval 1s]
 *      [--guarantee exactly-once|at-least-once] [--state-dir DIR] [--parallelism 1]
 *      [--partitions 6] [--bootstrap-servers 127.0.0.1:9092]
 * </pre>
 *
 * Emission as auditor's `--emit updates`: every window changed since the last checkpoint is
 * published once per checkpoint with its latest value (a per-element trigger feeds an
 * operator that keeps the latest update per window and flushes it before each checkpoint
 * barrier), and once more with "final":true when the watermark passes window end + grace.
 *
 * On start it resumes from the newest savepoint or retained checkpoint in --state-dir, if
 * any. Runs until SIGTERM/SIGINT, then stops the job with a savepoint (which commits the last
 * Kafka transaction) and prints one "flink: stopped" line with its counters.
 */
public final class Main {
  private static final Map<String, String> DEFAULTS = Map.of(
      "bootstrap-servers", "127.0.0.1:9092",
      "windows", "1m,1h,1d",
      "grace", "30s",
      "commit-interval", "1s",
      "guarantee", "exactly-once",
      "state-dir", "./flink-state",
      "parallelism", "1",
      "partitions", "6");
  private static final Set<String> REQUIRED = Set.of("application-id", "input-topic", "output-topic");

  @SuppressWarnings("unchecked")
  private static final TypeInformation<long[]> SUMS =
      (TypeInformation<long[]>) (TypeInformation<?>) PrimitiveArrayTypeInfo.LONG_PRIMITIVE_ARRAY_TYPE_INFO;

  /** Window updates dropped as late (one per tick and window size it was late for). */
  static final LongAdder LATE = new LongAdder();
  /** Window operator instances that have restored their state and opened. */
  static final AtomicInteger OPENED = new AtomicInteger();
  static volatile int windowInstances = Integer.MAX_VALUE;
  static volatile long startedNs;

  private Main() {}

  /** A valid tick with its event time resolved (a Flink POJO: no Kryo). */
  public static final class Event {
    public String name;
    public String activity;
    public long count;
    public long time;

    public Event() {}

    Event(String name, String activity, long count, long time) {
      this.name = name;
      this.activity = activity;
      this.count = count;
      this.time = time;
    }
  }

  /** One window's value as the window operator emits it (a Flink POJO). */
  public static final class Update {
    public String name;
    public String activity;
    public String window;
    public long start;
    public long end;
    public long count;
    public long ticks;
    public boolean fin;

    public Update() {}
  }

  /**
   * Parses each record with the kstreams TickParser; invalid ones are counted there and
   * dropped here. Event time: the payload timestamp, else the record timestamp.
   */
  static final class TickDeserializer implements KafkaRecordDeserializationSchema<Event> {
    private transient TickParser parser;

    @Override
    public void deserialize(ConsumerRecord<byte[], byte[]> record, Collector<Event> out) {
      if (parser == null) parser = new TickParser();
      final Tick t = parser.parse(record.value());
      if (!t.valid()) return;
      final long time = t.timestamp != Tick.NO_TIMESTAMP ? t.timestamp : record.timestamp();
      out.collect(new Event(t.processName, t.processActivity, t.count, time));
    }

    @Override
    public TypeInformation<Event> getProducedType() {
      return TypeInformation.of(Event.class);
    }
  }

  /**
   * Fires on every element (the current value; {@link LatestPerCheckpoint} keeps only the
   * last one per checkpoint) and once more when the window closes: the window operator's
   * cleanup timer at max timestamp + allowed lateness, i.e. when the watermark reaches
   * window end + grace.
   */
  static final class UpdateTrigger extends Trigger<Object, TimeWindow> {
    private final long graceMs;

    UpdateTrigger(long graceMs) {
      this.graceMs = graceMs;
    }

    @Override
    public TriggerResult onElement(Object element, long timestamp, TimeWindow window, TriggerContext ctx) {
      return TriggerResult.FIRE;
    }

    @Override
    public TriggerResult onEventTime(long time, TimeWindow window, TriggerContext ctx) {
      return time == window.maxTimestamp() + graceMs ? TriggerResult.FIRE : TriggerResult.CONTINUE;
    }

    @Override
    public TriggerResult onProcessingTime(long time, TimeWindow window, TriggerContext ctx) {
      return TriggerResult.CONTINUE;
    }

    @Override
    public void clear(TimeWindow window, TriggerContext ctx) {}
  }

  /** (sum of counts, number of ticks). */
  static final class Sum implements AggregateFunction<Event, long[], long[]> {
    @Override
    public long[] createAccumulator() {
      return new long[2];
    }

    @Override
    public long[] add(Event e, long[] acc) {
      acc[0] += e.count;
      acc[1] += 1;
      return acc;
    }

    @Override
    public long[] getResult(long[] acc) {
      return acc;
    }

    @Override
    public long[] merge(long[] a, long[] b) {
      return new long[] {a[0] + b[0], a[1] + b[1]};
    }
  }

  static final class ToUpdate extends ProcessWindowFunction<long[], Update, Tuple2<String, String>, TimeWindow> {
    private final String windowName;
    private final long graceMs;

    ToUpdate(String windowName, long graceMs) {
      this.windowName = windowName;
      this.graceMs = graceMs;
    }

    @Override
    public void open(org.apache.flink.api.common.functions.OpenContext ctx) {
      if (OPENED.incrementAndGet() == windowInstances) {
        say(String.format("RUNNING after %.1f s", (System.nanoTime() - startedNs) / 1e9));
      }
    }

    @Override
    public void process(Tuple2<String, String> key, Context ctx, Iterable<long[]> sums, Collector<Update> out) {
      final long[] s = sums.iterator().next();
      final Update u = new Update();
      u.name = key.f0;
      u.activity = key.f1;
      u.window = windowName;
      u.start = ctx.window().getStart();
      u.end = ctx.window().getEnd();
      u.count = s[0];
      u.ticks = s[1];
      u.fin = ctx.currentWatermark() >= ctx.window().maxTimestamp() + graceMs;
      out.collect(u);
    }
  }

  /**
   * Keeps the latest update per window and emits them just before each checkpoint barrier
   * (and at the end of input): like Kafka Streams' record cache flushed on commit, or
   * auditor's "every changed window at each commit". Nothing is held across a checkpoint, so
   * it needs no state. Bounded: flushes early past MAX_PENDING windows.
   */
  static final class LatestPerCheckpoint extends AbstractStreamOperator<Update>
      implements OneInputStreamOperator<Update, Update> {
    private static final int MAX_PENDING = 200_000;

    private record Key(String name, String activity, String window, long start) {}

    private transient HashMap<Key, Update> pending;

    @Override
    public void open() throws Exception {
      super.open();
      pending = new HashMap<>();
    }

    @Override
    public void processElement(StreamRecord<Update> element) {
      final Update u = element.getValue();
      pending.put(new Key(u.name, u.activity, u.window, u.start), u);
      if (pending.size() >= MAX_PENDING) flush();
    }

    @Override
    public void prepareSnapshotPreBarrier(long checkpointId) throws Exception {
      super.prepareSnapshotPreBarrier(checkpointId);
      flush();
    }

    @Override
    public void finish() throws Exception {
      flush();
      super.finish();
    }

    private void flush() {
      final StreamRecord<Update> r = new StreamRecord<>(null);
      for (final Update u : pending.values()) output.collect(r.replace(u));
      pending.clear();
    }
  }

  /** auditor's rollup key and value (see Codecs); partitioned by key hash like the others. */
  static final class RollupSerializer implements KafkaRecordSerializationSchema<Update> {
    private final String topic;

    RollupSerializer(String topic) {
      this.topic = topic;
    }

    @Override
    public ProducerRecord<byte[], byte[]> serialize(Update u, KafkaSinkContext ctx, Long timestamp) {
      return new ProducerRecord<>(topic, null, null,
          Codecs.rollupKey(u.name, u.activity, u.window, u.start),
          Codecs.rollupValue(u.name, u.activity, u.window, u.start, u.end, u.count, u.ticks, u.fin));
    }
  }

  static final class CountLate extends ProcessFunction<Event, Event> {
    @Override
    public void processElement(Event e, Context ctx, Collector<Event> out) {
      LATE.increment();
    }
  }

  public static void main(String[] args) throws Exception {
    startedNs = System.nanoTime();
    final Map<String, String> o = parseArgs(args);
    final String appId = o.get("application-id");
    final String bootstrap = o.get("bootstrap-servers");
    final String output = o.get("output-topic");
    final long graceMs = parseDuration("--grace", o.get("grace"));
    final long commitMs = parseDuration("--commit-interval", o.get("commit-interval"));
    final int parallelism = Integer.parseInt(o.get("parallelism"));
    final DeliveryGuarantee guarantee = switch (o.get("guarantee")) {
      case "exactly-once" -> DeliveryGuarantee.EXACTLY_ONCE;
      case "at-least-once" -> DeliveryGuarantee.AT_LEAST_ONCE;
      default -> throw usage("--guarantee: exactly-once or at-least-once");
    };
    final Path stateDir = Path.of(o.get("state-dir")).toAbsolutePath();
    Files.createDirectories(stateDir);
    final String checkpoints = stateDir.resolve("checkpoints").toUri().toString();
    final String savepoints = stateDir.resolve("savepoints").toUri().toString();
    final Optional<Path> resumeFrom = newestSnapshot(stateDir);

    final Configuration conf = new Configuration();
    final Map<String, String> c = new HashMap<>();
    // EmbeddedRocksDBStateBackend with incremental checkpoints into --state-dir.
    c.put("state.backend.type", "rocksdb");
    c.put("execution.checkpointing.incremental", "true");
    c.put("execution.checkpointing.dir", checkpoints);
    c.put("execution.checkpointing.savepoint-dir", savepoints);
    c.put("state.backend.rocksdb.localdir", stateDir.resolve("rocksdb").toString());
    // Kept after a crash or cancel: the next start resumes from it (see newestSnapshot).
    c.put("execution.checkpointing.externalized-checkpoint-retention", "RETAIN_ON_CANCELLATION");
    // A failure ends the process (the benchmark's wait then says so) rather than restarting
    // in a loop with counters that would count twice.
    c.put("restart-strategy.type", "none");
    // Every type here has a Flink serializer: fail rather than fall back to Kryo.
    c.put("pipeline.generic-types", "false");
    resumeFrom.ifPresent(p -> c.put("execution.savepoint.path", p.toUri().toString()));
    final Configuration flinkConf = Configuration.fromMap(c);
    conf.addAll(flinkConf);

    ensureOutputTopic(bootstrap, output, Integer.parseInt(o.get("partitions")));

    final StreamExecutionEnvironment env =
        StreamExecutionEnvironment.createLocalEnvironment(parallelism, conf);
    env.enableCheckpointing(commitMs, guarantee == DeliveryGuarantee.EXACTLY_ONCE
        ? org.apache.flink.core.execution.CheckpointingMode.EXACTLY_ONCE
        : org.apache.flink.core.execution.CheckpointingMode.AT_LEAST_ONCE);

    final KafkaSource<Event> source = KafkaSource.<Event>builder()
        .setBootstrapServers(bootstrap)
        .setTopics(o.get("input-topic"))
        .setGroupId(appId)
        .setClientIdPrefix(appId)
        .setStartingOffsets(OffsetsInitializer.earliest())
        .setDeserializer(new TickDeserializer())
        .setProperty("isolation.level", "read_committed")
        // auditor's session timeout; offsets go to the group on checkpoint completion
        // (commit.offsets.on.checkpoint, the default).
        .setProperty("session.timeout.ms", "10000")
        .build();
    // Per-partition (per-split) watermarks = the largest event time seen - 1 ms, combined as
    // the minimum over partitions: a window closes when every partition has passed its end
    // + grace, as in auditor.
    final WatermarkStrategy<Event> watermarks = WatermarkStrategy.<Event>forMonotonousTimestamps()
        .withTimestampAssigner((e, recordTs) -> e.time);
    final KeyedStream<Event, Tuple2<String, String>> keyed = env
        .fromSource(source, watermarks, "ticks")
        .keyBy(e -> Tuple2.of(e.name, e.activity), Types.TUPLE(Types.STRING, Types.STRING));

    final String[] windows = o.get("windows").split(",");
    windowInstances = windows.length * parallelism;
    DataStream<Update> updates = null;
    DataStream<Event> late = null;
    for (final String window : windows) {
      final long size = parseDuration("--windows", window);
      final OutputTag<Event> lateTag = new OutputTag<>("late-" + window, TypeInformation.of(Event.class));
      final SingleOutputStreamOperator<Update> w = keyed
          .window(TumblingEventTimeWindows.of(Duration.ofMillis(size)))
          .allowedLateness(Duration.ofMillis(graceMs))
          .sideOutputLateData(lateTag)
          .trigger(new UpdateTrigger(graceMs))
          .aggregate(new Sum(), new ToUpdate(window, graceMs),
              SUMS, SUMS, TypeInformation.of(Update.class))
          .name("window " + window).uid("window-" + window);
      updates = updates == null ? w : updates.union(w);
      final DataStream<Event> l = w.getSideOutput(lateTag);
      late = late == null ? l : late.union(l);
    }
    late.process(new CountLate()).name("count late").uid("count-late")
        .sinkTo(new DiscardingSink<>()).name("late");

    final Properties producer = new Properties();
    // Below the broker's transaction.max.timeout.ms (15 min); the sink's default is 1 h.
    producer.put("transaction.timeout.ms", "300000");
    final KafkaSink<Update> sink = KafkaSink.<Update>builder()
        .setBootstrapServers(bootstrap)
        .setRecordSerializer(new RollupSerializer(output))
        .setDeliveryGuarantee(guarantee)
        .setTransactionalIdPrefix(appId)
        .setKafkaProducerConfig(producer)
        .build();
    updates
        .transform("latest per checkpoint", TypeInformation.of(Update.class), new LatestPerCheckpoint())
        .uid("latest-per-checkpoint")
        .sinkTo(sink).name("rollups").uid("rollups");

    final JobClient job = env.executeAsync("auditor-flink " + appId);
    say("started: job " + job.getJobID() + ", group " + appId + ", guarantee " + o.get("guarantee")
        + ", windows " + o.get("windows") + ", grace " + o.get("grace") + ", checkpoint interval "
        + o.get("commit-interval") + ", parallelism " + parallelism
        + resumeFrom.map(p -> ", resumed from " + p).orElse(""));

    final AtomicBoolean stopping = new AtomicBoolean(false);
    final Thread stopper = new Thread(() -> {
      try {
        final String sp = job.stopWithSavepoint(false, savepoints, SavepointFormatType.NATIVE)
            .get(120, TimeUnit.SECONDS);
        say("stopped with savepoint " + sp);
      } catch (Exception e) {
        System.err.println("flink: stop with savepoint failed (" + e + "): cancelling");
        try {
          job.cancel().get(60, TimeUnit.SECONDS);
        } catch (Exception e2) {
          System.err.println("flink: cancel failed: " + e2);
        }
      }
    }, "flink-stop");
    // Our own handlers instead of the JVM's shutdown: the job must stop (and commit) while
    // the MiniCluster is still whole, before any shutdown hook tears parts of it down.
    final sun.misc.SignalHandler onSignal = sig -> {
      if (stopping.compareAndSet(false, true)) stopper.start();
    };
    sun.misc.Signal.handle(new sun.misc.Signal("TERM"), onSignal);
    sun.misc.Signal.handle(new sun.misc.Signal("INT"), onSignal);

    int status = 0;
    try {
      job.getJobExecutionResult().get();
    } catch (ExecutionException e) {
      if (!stopping.get()) {
        System.err.println("flink: job failed: " + rootCause(e));
        status = 1;
      }
    }
    if (stopping.get()) stopper.join(TimeUnit.SECONDS.toMillis(200));
    say(String.format("stopped: %d valid ticks, %d invalid, %d dropped (late window updates)",
        TickParser.VALID.sum(), TickParser.INVALID.sum(), LATE.sum()));
    System.out.flush();
    System.exit(status);
  }

  private static Throwable rootCause(Throwable t) {
    while (t.getCause() != null && t.getCause() != t) t = t.getCause();
    return t;
  }

  /** The newest savepoint or retained checkpoint (a directory with _metadata) in dir. */
  static Optional<Path> newestSnapshot(Path dir) throws IOException {
    final List<Path> candidates = new java.util.ArrayList<>();
    for (final String sub : List.of("checkpoints", "savepoints")) {
      final Path root = dir.resolve(sub);
      if (!Files.isDirectory(root)) continue;
      try (Stream<Path> s = Files.walk(root, 3)) {
        s.filter(p -> p.getFileName().toString().equals("_metadata")).forEach(candidates::add);
      }
    }
    return candidates.stream()
        .max(Comparator.comparingLong(p -> new File(p.toString()).lastModified()))
        .map(Path::getParent);
  }

  static void say(String line) {
    System.out.println("flink: " + java.time.Instant.now() + " " + line);
    System.out.flush();
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
      if (DEFAULTS.containsKey(key) || REQUIRED.contains(key)) {
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
    System.err.println("flink: " + message);
    System.exit(2);
    return new IllegalArgumentException(message);
  }
}
