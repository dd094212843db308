import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Objects;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.Serializer;

/** The small types the topology carries, and their serdes. */
final class Codecs {
  private Codecs() {}

  /** (process_name, process_activity): the grouping key. */
  static final class GroupKey {
    final String processName;
    final String processActivity;

    GroupKey(String processName, String processActivity) {
      this.processName = processName;
      this.processActivity = processActivity;
    }

    @Override
    public boolean equals(Object o) {
      return o instanceof GroupKey k && k.processName.equals(processName)
          && k.processActivity.equals(processActivity);
    }

    @Override
    public int hashCode() {
      return Objects.hash(processName, processActivity);
    }
  }

  /** Sum of counts and number of ticks of one window. */
  static final class Agg {
    final long count;
    final long ticks;

    Agg(long count, long ticks) {
      this.count = count;
      this.ticks = ticks;
    }
  }

  /**
   * A two-byte length of the name, the name, then the activity (UTF-8): unambiguous whatever
   * the names contain, and the same encoding auditor uses for its repartition key.
   */
  static Serde<GroupKey> groupKeySerde() {
    final Serializer<GroupKey> ser = (topic, k) -> {
      if (k == null) return null;
      final byte[] name = k.processName.getBytes(StandardCharsets.UTF_8);
      final byte[] activity = k.processActivity.getBytes(StandardCharsets.UTF_8);
      final byte[] out = new byte[2 + name.length + activity.length];
      out[0] = (byte) (name.length >>> 8);
      out[1] = (byte) name.length;
      System.arraycopy(name, 0, out, 2, name.length);
      System.arraycopy(activity, 0, out, 2 + name.length, activity.length);
      return out;
    };
    final Deserializer<GroupKey> de = (topic, b) -> {
      if (b == null) return null;
      final int n = ((b[0] & 0xff) << 8) | (b[1] & 0xff);
      return new GroupKey(new String(b, 2, n, StandardCharsets.UTF_8),
          new String(b, 2 + n, b.length - 2 - n, StandardCharsets.UTF_8));
    };
    return Serdes.serdeFrom(ser, de);
  }

  static Serde<Agg> aggSerde() {
    final Serializer<Agg> ser = (topic, a) ->
        a == null ? null : ByteBuffer.allocate(16).putLong(a.count).putLong(a.ticks).array();
    final Deserializer<Agg> de = (topic, b) -> {
      if (b == null) return null;
      final ByteBuffer buf = ByteBuffer.wrap(b);
      return new Agg(buf.getLong(), buf.getLong());
    };
    return Serdes.serdeFrom(ser, de);
  }

  /** Record values of the input topic: parsed once, here, for the extractor and the topology. */
  static Serde<Tick> tickSerde() {
    final ThreadLocal<TickParser> parsers = ThreadLocal.withInitial(TickParser::new);
    final Serializer<Tick> ser = (topic, t) -> {
      throw new UnsupportedOperationException("ticks are only read");
    };
    final Deserializer<Tick> de = (topic, b) -> parsers.get().parse(b);
    return Serdes.serdeFrom(ser, de);
  }

  /**
   * The rollup key of auditor (canonical JSON, keys sorted):
   * {"process_activity":..,"process_name":..,"window":"1m","window_start":".."}.
   */
  static byte[] rollupKey(GroupKey k, String window, long start) {
    final StringBuilder b = new StringBuilder(128);
    b.append("{\"process_activity\":");
    quote(b, k.processActivity);
    b.append(",\"process_name\":");
    quote(b, k.processName);
    b.append(",\"window\":\"").append(window).append("\",\"window_start\":\"")
        .append(Rfc3339.format(start)).append("\"}");
    return b.toString().getBytes(StandardCharsets.UTF_8);
  }

  /**
   * The rollup value of auditor. `final` is always false: this app publishes every update
   * (Kafka Streams' default emit strategy) and does not track when a window closes.
   */
  static byte[] rollupValue(GroupKey k, String window, long start, long end, Agg a) {
    final StringBuilder b = new StringBuilder(256);
    b.append("{\"process_name\":");
    quote(b, k.processName);
    b.append(",\"process_activity\":");
    quote(b, k.processActivity);
    b.append(",\"window\":\"").append(window)
        .append("\",\"window_start\":\"").append(Rfc3339.format(start))
        .append("\",\"window_end\":\"").append(Rfc3339.format(end))
        .append("\",\"count\":").append(a.count)
        .append(",\"ticks\":").append(a.ticks)
        .append(",\"final\":false}");
    return b.toString().getBytes(StandardCharsets.UTF_8);
  }

  /** A JSON string as nlohmann::json dumps it with ensure_ascii=false. */
  static void quote(StringBuilder b, String s) {
    b.append('"');
    for (int i = 0; i < s.length(); i++) {
      final char c = s.charAt(i);
      switch (c) {
        case '"' -> b.append("\\\"");
        case '\\' -> b.append("\\\\");
        case '\b' -> b.append("\\b");
        case '\f' -> b.append("\\f");
        case '\n' -> b.append("\\n");
        case '\r' -> b.append("\\r");
        case '\t' -> b.append("\\t");
        default -> {
          if (c < 0x20) {
            b.append(String.format("\\u%04x", (int) c));
          } else {
            b.append(c);
          }
        }
      }
    }
    b.append('"');
  }
}
