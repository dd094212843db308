import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import java.io.IOException;
import java.util.concurrent.atomic.LongAdder;

/**
 * Validates a tick by the rules of DESIGN.md "Input record" (auditor's topology/tick_parser):
 * a JSON object, non-empty UTF-8 names of at most 256 bytes, an integer count in 1..1e9
 * (absent = 1), an optional RFC 3339 or integer epoch-ms timestamp, no duplicate known field,
 * valid UTF-8, at most 64 KiB, nothing after the object. Anything else is invalid; the reason
 * does not matter here because the reference app only drops such records.
 *
 * Jackson's streaming parser is the fastest reader Jackson has for a small object, so this is
 * a fair counterpart to auditor's simdjson on-demand parser.
 */
final class TickParser {
  static final int MAX_TICK_BYTES = 64 * 1024;
  static final int MAX_NAME_BYTES = 256;
  static final long MAX_COUNT = 1_000_000_000L;
  /** Nesting limit of ignored fields, as auditor's kMaxDepth. */
  private static final int MAX_DEPTH = 64;

  /** Records seen, for the app's closing line (and a check that nothing was parsed twice). */
  static final LongAdder VALID = new LongAdder();
  static final LongAdder INVALID = new LongAdder();

  private final JsonFactory factory = new JsonFactory();

  Tick parse(byte[] data) {
    final Tick t = read(data);
    (t.valid() ? VALID : INVALID).increment();
    return t;
  }

  private Tick read(byte[] data) {
    if (data == null || data.length > MAX_TICK_BYTES || !validUtf8(data)) return Tick.INVALID;
    try (JsonParser p = factory.createParser(data)) {
      if (p.nextToken() != JsonToken.START_OBJECT) return Tick.INVALID;
      String name = null;
      String activity = null;
      long count = 1;
      long timestamp = Tick.NO_TIMESTAMP;
      boolean seenCount = false;
      boolean seenTimestamp = false;
      JsonToken t;
      while ((t = p.nextToken()) == JsonToken.FIELD_NAME) {
        final String field = p.currentName();
        final JsonToken value = p.nextToken();
        switch (field) {
          case "process_name":
            if (name != null) return Tick.INVALID;  // duplicate
            name = readName(p, value);
            if (name == null) return Tick.INVALID;
            break;
          case "process_activity":
            if (activity != null) return Tick.INVALID;
            activity = readName(p, value);
            if (activity == null) return Tick.INVALID;
            break;
          case "count":
            if (seenCount) return Tick.INVALID;
            seenCount = true;
            count = readInteger(p, value);
            if (count < 1 || count > MAX_COUNT) return Tick.INVALID;
            break;
          case "timestamp":
            if (seenTimestamp) return Tick.INVALID;
            seenTimestamp = true;
            timestamp = readTimestamp(p, value);
            if (timestamp == Rfc3339.INVALID) return Tick.INVALID;
            break;
          default:
            if (hasLoneSurrogate(field) || !skip(p, value, 1)) return Tick.INVALID;
        }
      }
      if (t != JsonToken.END_OBJECT || p.nextToken() != null) return Tick.INVALID;  // trailing
      if (name == null || activity == null) return Tick.INVALID;
      return new Tick(name, activity, count, timestamp);
    } catch (IOException | RuntimeException e) {
      return Tick.INVALID;  // not JSON
    }
  }

  private static String readName(JsonParser p, JsonToken value) throws IOException {
    if (value != JsonToken.VALUE_STRING) return null;
    final String s = p.getText();
    final int bytes = utf8Length(s);
    return bytes < 1 || bytes > MAX_NAME_BYTES ? null : s;
  }

  /** An integer token that fits a long, else Long.MIN_VALUE (which every range rejects). */
  private static long readInteger(JsonParser p, JsonToken value) throws IOException {
    if (value != JsonToken.VALUE_NUMBER_INT) return Long.MIN_VALUE;  // 1.0 and 1e3 are not
    final JsonParser.NumberType type = p.getNumberType();
    if (type != JsonParser.NumberType.INT && type != JsonParser.NumberType.LONG) return Long.MIN_VALUE;
    return p.getLongValue();
  }

  private static long readTimestamp(JsonParser p, JsonToken value) throws IOException {
    if (value == JsonToken.VALUE_STRING) {
      final String s = p.getText();
      return hasLoneSurrogate(s) ? Rfc3339.INVALID : Rfc3339.parse(s);
    }
    final long ms = readInteger(p, value);
    if (ms < Rfc3339.MIN_EVENT_TIME || ms > Rfc3339.MAX_EVENT_TIME) return Rfc3339.INVALID;
    return ms;
  }

  /** Walks a value nobody reads so that the record is accepted only if it is JSON as a whole. */
  private static boolean skip(JsonParser p, JsonToken t, int depth) throws IOException {
    if (t == null || depth > MAX_DEPTH) return false;
    switch (t) {
      case START_OBJECT:
        while ((t = p.nextToken()) == JsonToken.FIELD_NAME) {
          if (hasLoneSurrogate(p.currentName()) || !skip(p, p.nextToken(), depth + 1)) return false;
        }
        return t == JsonToken.END_OBJECT;
      case START_ARRAY:
        while ((t = p.nextToken()) != JsonToken.END_ARRAY) {
          if (!skip(p, t, depth + 1)) return false;
        }
        return true;
      case VALUE_STRING:
        // A \\u escape of an unpaired surrogate is JSON but not UTF-8 (auditor rejects it).
        return !hasLoneSurrogate(p.getText());
      case VALUE_NUMBER_INT:
      case VALUE_NUMBER_FLOAT:
      case VALUE_TRUE:
      case VALUE_FALSE:
      case VALUE_NULL:
        return true;
      default:
        return false;
    }
  }

  /** UTF-8 byte length of s, or -1 if it holds an unpaired surrogate. */
  static int utf8Length(String s) {
    int n = 0;
    for (int i = 0; i < s.length(); i++) {
      final char c = s.charAt(i);
      if (c < 0x80) {
        n += 1;
      } else if (c < 0x800) {
        n += 2;
      } else if (Character.isHighSurrogate(c)) {
        if (i + 1 >= s.length() || !Character.isLowSurrogate(s.charAt(i + 1))) return -1;
        n += 4;
        i++;
      } else if (Character.isLowSurrogate(c)) {
        return -1;
      } else {
        n += 3;
      }
    }
    return n;
  }

  private static boolean hasLoneSurrogate(String s) {
    return utf8Length(s) < 0;
  }

  /** Strict UTF-8 (no overlongs, no surrogates, at most U+10FFFF), ASCII fast path. */
  static boolean validUtf8(byte[] b) {
    int i = 0;
    final int n = b.length;
    while (i < n) {
      final int c = b[i] & 0xff;
      if (c < 0x80) {
        i++;
        continue;
      }
      int need;
      int min;
      if (c >= 0xc2 && c <= 0xdf) {
        need = 1;
        min = 0x80;
      } else if (c >= 0xe0 && c <= 0xef) {
        need = 2;
        min = 0x800;
      } else if (c >= 0xf0 && c <= 0xf4) {
        need = 3;
        min = 0x10000;
      } else {
        return false;
      }
      if (i + need >= n) return false;
      int cp = c & (0x3f >> need);
      for (int k = 1; k <= need; k++) {
        if (i + k >= n) return false;
        final int cc = b[i + k] & 0xff;
        if ((cc & 0xc0) != 0x80) return false;
        cp = (cp << 6) | (cc & 0x3f);
      }
      if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
      i += need + 1;
    }
    return true;
  }
}
