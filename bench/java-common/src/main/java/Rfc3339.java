/**
 * RFC 3339 date-times, exactly as auditor reads and writes them (topology/event_time.cpp):
 * "T", "t" or a space between date and time, an optional fraction truncated to milliseconds,
 * "Z", "z" or a "+hh:mm" offset, days checked per month, no leap second, years 0000-9999.
 * java.time's parsers accept a different set (e.g. no space separator, leap-second handling),
 * so the reference app carries its own port to drop exactly the same ticks.
 */
final class Rfc3339 {
  static final long MIN_EVENT_TIME = -62167219200000L;  // 0000-01-01T00:00:00Z
  static final long MAX_EVENT_TIME = 253402300799999L;  // 9999-12-31T23:59:59.999Z
  static final long INVALID = Long.MIN_VALUE;

  private static final long MS_PER_MINUTE = 60_000L;
  private static final long MS_PER_HOUR = 3_600_000L;
  private static final long MS_PER_DAY = 86_400_000L;

  private Rfc3339() {}

  // Howard Hinnant's days_from_civil, as in event_time.cpp.
  static long daysFromCivil(long y, long m, long d) {
    y -= m <= 2 ? 1 : 0;
    final long era = (y >= 0 ? y : y - 399) / 400;
    final long yoe = y - era * 400;
    final long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    final long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
  }

  private static boolean isLeap(long y) {
    return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
  }

  private static int daysInMonth(long y, int m) {
    final int[] days = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && isLeap(y) ? 29 : days[m - 1];
  }

  /** Exactly n ASCII digits at pos, or -1. */
  private static int digits(String s, int pos, int n) {
    if (s.length() - pos < n) return -1;
    int v = 0;
    for (int i = 0; i < n; i++) {
      final char c = s.charAt(pos + i);
      if (c < '0' || c > '9') return -1;
      v = v * 10 + (c - '0');
    }
    return v;
  }

  /** Epoch milliseconds, or INVALID. */
  static long parse(String s) {
    int pos = 0;
    final int year = digits(s, pos, 4);
    if (year < 0 || s.length() <= 4 || s.charAt(4) != '-') return INVALID;
    final int month = digits(s, 5, 2);
    if (month < 0 || s.length() <= 7 || s.charAt(7) != '-') return INVALID;
    final int day = digits(s, 8, 2);
    if (day < 0 || s.length() <= 10) return INVALID;
    final char sep = s.charAt(10);
    if (sep != 'T' && sep != 't' && sep != ' ') return INVALID;
    final int hour = digits(s, 11, 2);
    if (hour < 0 || s.length() <= 13 || s.charAt(13) != ':') return INVALID;
    final int minute = digits(s, 14, 2);
    if (minute < 0 || s.length() <= 16 || s.charAt(16) != ':') return INVALID;
    final int second = digits(s, 17, 2);
    if (second < 0) return INVALID;
    pos = 19;
    if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return INVALID;
    if (hour > 23 || minute > 59 || second > 59) return INVALID;

    long millis = 0;
    if (pos < s.length() && s.charAt(pos) == '.') {
      pos++;
      final int first = pos;
      while (pos < s.length() && s.charAt(pos) >= '0' && s.charAt(pos) <= '9') {
        if (pos - first < 3) millis = millis * 10 + (s.charAt(pos) - '0');
        pos++;
      }
      if (pos == first) return INVALID;
      for (int n = pos - first; n < 3; n++) millis *= 10;
    }

    long offset = 0;
    if (pos >= s.length()) return INVALID;
    final char z = s.charAt(pos);
    if (z == 'Z' || z == 'z') {
      pos++;
    } else if (z == '+' || z == '-') {
      pos++;
      final int offHour = digits(s, pos, 2);
      if (offHour < 0 || s.length() <= pos + 2 || s.charAt(pos + 2) != ':') return INVALID;
      final int offMinute = digits(s, pos + 3, 2);
      if (offMinute < 0 || offHour > 23 || offMinute > 59) return INVALID;
      pos += 5;
      offset = offHour * MS_PER_HOUR + offMinute * MS_PER_MINUTE;
      if (z == '-') offset = -offset;
    } else {
      return INVALID;
    }
    if (pos != s.length()) return INVALID;
    final long t = daysFromCivil(year, month, day) * MS_PER_DAY + hour * MS_PER_HOUR
        + minute * MS_PER_MINUTE + second * 1000L + millis - offset;
    if (t < MIN_EVENT_TIME || t > MAX_EVENT_TIME) return INVALID;
    return t;
  }

  /** "2026-11-22T09:47:00Z", or with ".250" when the milliseconds are not zero. */
  static String format(long t) {
    long days = Math.floorDiv(t, MS_PER_DAY);
    final long msOfDay = Math.floorMod(t, MS_PER_DAY);
    // Howard Hinnant's civil_from_days.
    final long z = days + 719468;
    final long era = (z >= 0 ? z : z - 146096) / 146097;
    final long doe = z - era * 146097;
    final long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    final long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    final long mp = (5 * doy + 2) / 153;
    final long day = doy - (153 * mp + 2) / 5 + 1;
    final long month = mp < 10 ? mp + 3 : mp - 9;
    final long year = yoe + era * 400 + (month <= 2 ? 1 : 0);
    final StringBuilder b = new StringBuilder(24);
    pad(b, year, 4).append('-');
    pad(b, month, 2).append('-');
    pad(b, day, 2).append('T');
    pad(b, msOfDay / MS_PER_HOUR, 2).append(':');
    pad(b, msOfDay / MS_PER_MINUTE % 60, 2).append(':');
    pad(b, msOfDay / 1000 % 60, 2);
    if (msOfDay % 1000 != 0) pad(b.append('.'), msOfDay % 1000, 3);
    return b.append('Z').toString();
  }

  private static StringBuilder pad(StringBuilder b, long v, int width) {
    final String s = Long.toString(v);
    for (int i = s.length(); i < width; i++) b.append('0');
    return b.append(s);
  }
}
