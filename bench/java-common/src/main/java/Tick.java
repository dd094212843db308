/**
 * One valid audit tick, or the marker for an invalid record (see {@link TickParser}).
 * Deserializing the value into this once lets the timestamp extractor and the topology share
 * one parse.
 */
final class Tick {
  static final long NO_TIMESTAMP = Long.MIN_VALUE;
  /** Every invalid record deserializes to this one instance; the topology filters it out. */
  static final Tick INVALID = new Tick(null, null, 0, NO_TIMESTAMP);

  final String processName;
  final String processActivity;
  final long count;
  /** From the payload, or NO_TIMESTAMP (then the record timestamp is the event time). */
  final long timestamp;

  Tick(String processName, String processActivity, long count, long timestamp) {
    this.processName = processName;
    this.processActivity = processActivity;
    this.count = count;
    this.timestamp = timestamp;
  }

  boolean valid() {
    return this != INVALID;
  }
}
