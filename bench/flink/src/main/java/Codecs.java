import java.nio.charset.StandardCharsets;

/**
 * auditor's rollup key and value (topology/rollup_format.cpp), as bench/kstreams/Codecs.java
 * writes them, plus the final flag (this contender knows when a window closes).
 */
final class Codecs {
  private Codecs() {}

  /**
   * The rollup key of auditor (canonical JSON, keys sorted):
   * {"process_activity":..,"process_name":..,"window":"1m","window_start":".."}.
   */
  static byte[] rollupKey(String name, String activity, String window, long start) {
    final StringBuilder b = new StringBuilder(128);
    b.append("{\"process_activity\":");
    quote(b, activity);
    b.append(",\"process_name\":");
    quote(b, name);
    b.append(",\"window\":\"").append(window).append("\",\"window_start\":\"")
        .append(Rfc3339.format(start)).append("\"}");
    return b.toString().getBytes(StandardCharsets.UTF_8);
  }

  /** The rollup value of auditor; `final` is true once the window has closed. */
  static byte[] rollupValue(String name, String activity, String window, long start, long end,
      long count, long ticks, boolean fin) {
    final StringBuilder b = new StringBuilder(256);
    b.append("{\"process_name\":");
    quote(b, name);
    b.append(",\"process_activity\":");
    quote(b, activity);
    b.append(",\"window\":\"").append(window)
        .append("\",\"window_start\":\"").append(Rfc3339.format(start))
        .append("\",\"window_end\":\"").append(Rfc3339.format(end))
        .append("\",\"count\":").append(count)
        .append(",\"ticks\":").append(ticks)
        .append(fin ? ",\"final\":true}" : ",\"final\":false}");
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
