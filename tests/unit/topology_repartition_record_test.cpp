#include <gtest/gtest.h>

#include <cstdint>
#include <iterator>
#include <random>
#include <string>

#include "topology/repartition_record.h"

namespace auditor {
namespace {

using namespace std::string_literals;
using Kind = RepartitionMessage::Kind;

const WindowSet& windows3() {
  static const WindowSet w = WindowSet::parse("1m,1h,1d");
  return w;
}

std::string be64(std::int64_t v) {
  std::string out;
  for (int shift = 56; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>((static_cast<std::uint64_t>(v) >> shift) & 0xFFU));
  }
  return out;
}

std::string value(EventTime t, std::int64_t count, std::int64_t ticks, std::uint32_t late = 0) {
  return encode_repartition_value(t, count, ticks, late, windows3());
}

RepartitionMessage decode(std::string_view key, std::string_view v,
                          const WindowSet& windows = windows3()) {
  return decode_repartition_message(key, v, windows);
}

Kind kind(std::string_view key, std::string_view v) {
  return decode(key, v).kind;
}

TEST(RepartitionRecord, ExactBytes) {
  EXPECT_EQ(encode_repartition_key("auth", "login"),
            "\x00\x04"s
            "authlogin");
  EXPECT_EQ(value(EventTime{0x0102030405060708}, 5, 2),
            "\x02"s
            "\x01\x02\x03\x04\x05\x06\x07\x08"
            "\x00\x00\x00\x00\x00\x00\x00\x05"
            "\x00\x00\x00\x00\x00\x00\x00\x02"
            "\x00"s);
  EXPECT_EQ(value(EventTime{-1}, 1, 1).substr(1, 8), std::string(8, '\xff'));
  // Late for 1m and 1d: two sizes, ascending, in milliseconds.
  EXPECT_EQ(value(EventTime{0}, 3, 3, 0b101U),
            "\x02"s + be64(0) + be64(3) + be64(3) + "\x02"s + be64(60'000) + be64(86'400'000));
  EXPECT_EQ(value(EventTime{0}, 3, 3, 0b010U),
            "\x02"s + be64(0) + be64(3) + be64(3) + "\x01"s + be64(3'600'000));
}

TEST(RepartitionRecord, WatermarkExactBytes) {
  EXPECT_EQ(encode_watermark_value(PartitionId{0x01020304}, {EventTime{0x1112131415161718}, false}),
            "\x03\x01\x02\x03\x04\x01"s + be64(0x1112131415161718));
  EXPECT_EQ(encode_watermark_value(PartitionId{7}, {EventTime{-2}, true}),
            "\x03\x00\x00\x00\x07\x03"s + be64(-2));
  EXPECT_EQ(encode_watermark_value(PartitionId{0}, {std::nullopt, true}),
            "\x03\x00\x00\x00\x00\x02"s);
  EXPECT_EQ(encode_watermark_value(PartitionId{0}, {std::nullopt, false}),
            "\x03\x00\x00\x00\x00\x00"s);
}

TEST(RepartitionRecord, RoundTrips) {
  const std::string all_bytes = [] {
    std::string s;
    for (int c = 0; c < 256; ++c) s.push_back(static_cast<char>(c));
    return s;
  }();
  const std::pair<std::string, std::string> names[] = {
      {"auth", "login"},
      {"a|b", "c"},
      {"a", "b|c"},
      {"\"quoted\"", "\\"},
      {std::string("\0", 1), std::string("\0\0", 2)},
      {all_bytes, all_bytes},
      {std::string(256, 'n'), std::string(256, 'a')},
      {std::string(65'535, 'x'), "y"},
  };
  for (const auto& [name, activity] : names) {
    for (const EventTime t : {kMinEventTime, EventTime{-1}, EventTime{0}, kMaxEventTime}) {
      for (std::uint32_t late = 0; late < 8; ++late) {
        const std::string key = encode_repartition_key(name, activity);
        const std::string v = value(t, 1'000'000'000'000, 3, late);
        const RepartitionMessage m = decode(key, v);
        ASSERT_EQ(m.kind, Kind::kDelta);
        const RepartitionRecord& r = m.delta;
        EXPECT_EQ(r.process_name, name);
        EXPECT_EQ(r.process_activity, activity);
        EXPECT_EQ(r.event_time, t);
        EXPECT_EQ(r.count, 1'000'000'000'000);
        EXPECT_EQ(r.ticks, 3);
        EXPECT_EQ(r.late_mask, late);
        // The views point into the key given to decode.
        EXPECT_EQ(r.process_name.data(), key.data() + 2);
      }
    }
  }
  EXPECT_THROW((void)encode_repartition_key(std::string(65'536, 'x'), "y"), std::length_error);
}

TEST(RepartitionRecord, LateSizesAreMappedThroughTheDecodersWindows) {
  const std::string key = encode_repartition_key("a", "b");
  // Written with 1m,1h,1d, late for 1h (bit 1 there).
  const std::string late_1h = value(EventTime{0}, 1, 1, 0b010U);
  EXPECT_EQ(decode(key, late_1h, WindowSet::parse("1h,1d")).delta.late_mask, 0b01U);
  EXPECT_EQ(decode(key, late_1h, WindowSet::parse("1s,1m,1h")).delta.late_mask, 0b100U);
  // WindowSet sorts its sizes: 1h is windows()[1] of "1d,2h,1h,1m" too.
  EXPECT_EQ(decode(key, late_1h, WindowSet::parse("1d,2h,1h,1m")).delta.late_mask, 0b0010U);
  // A size the decoder does not have is ignored: the record counts in every window it has.
  const RepartitionMessage no_1h = decode(key, late_1h, WindowSet::parse("1m,1d"));
  ASSERT_EQ(no_1h.kind, Kind::kDelta);
  EXPECT_EQ(no_1h.delta.late_mask, 0U);
  EXPECT_EQ(decode(key, value(EventTime{0}, 1, 1, 0b111U), WindowSet::parse("5m")).delta.late_mask,
            0U);
  // 1m and 1d late, decoded by a set that has only 1d of them.
  EXPECT_EQ(
      decode(key, value(EventTime{0}, 1, 1, 0b101U), WindowSet::parse("1h,1d")).delta.late_mask,
      0b10U);
  // Sizes are compared as milliseconds: 60m is 1h.
  EXPECT_EQ(decode(key, late_1h, WindowSet::parse("60m")).delta.late_mask, 1U);
  // Hand-written: a size listed twice still sets its bit once; unknown ones are skipped,
  // small ones that look like indices too.
  const std::string twice = "\x02"s + be64(0) + be64(1) + be64(1) + "\x03"s + be64(3'600'000) +
                            be64(2) + be64(3'600'000);
  const RepartitionMessage m = decode(key, twice);
  ASSERT_EQ(m.kind, Kind::kDelta);
  EXPECT_EQ(m.delta.late_mask, 0b010U);
  // A size that no window can have is damage, not an unknown size.
  for (const std::int64_t bad : {0LL, -60'000LL}) {
    const std::string v = "\x02"s + be64(0) + be64(1) + be64(1) + "\x01"s + be64(bad);
    EXPECT_EQ(decode(key, v).kind, Kind::kMalformed) << bad;
  }
}

TEST(RepartitionRecord, WatermarkRoundTrips) {
  for (const std::int32_t input : {0, 1, 255, 256, 0x7FFFFFFF}) {
    for (const std::optional<EventTime> t :
         {std::optional<EventTime>{}, std::optional{kMinEventTime}, std::optional{EventTime{-1}},
          std::optional{EventTime{0}}, std::optional{kMaxEventTime}}) {
      for (const bool idle : {false, true}) {
        const PartitionWatermark wm{t, idle};
        const RepartitionMessage m = decode("", encode_watermark_value(PartitionId{input}, wm));
        ASSERT_EQ(m.kind, Kind::kWatermark);
        EXPECT_EQ(m.input, PartitionId{input});
        EXPECT_EQ(m.watermark, wm);
      }
    }
  }
}

TEST(RepartitionRecord, RejectsMalformedDeltas) {
  const std::string key = encode_repartition_key("auth", "login");
  const std::string v = value(EventTime{0}, 5, 2);
  ASSERT_EQ(kind(key, v), Kind::kDelta);

  // Keys: too short, name length past the end, empty name or activity.
  EXPECT_EQ(kind("", v), Kind::kMalformed);
  EXPECT_EQ(kind("\x00"s, v), Kind::kMalformed);
  EXPECT_EQ(kind("\x00\x05"s
                 "auth",
                 v),
            Kind::kMalformed);
  EXPECT_EQ(kind("\xff\xff"s
                 "auth",
                 v),
            Kind::kMalformed);
  EXPECT_EQ(kind(encode_repartition_key("", "login"), v), Kind::kMalformed);
  EXPECT_EQ(kind(encode_repartition_key("auth", ""), v), Kind::kMalformed);

  // Values: length, format, counts, event time range.
  EXPECT_EQ(kind(key, ""), Kind::kMalformed);
  for (std::size_t len = 1; len < v.size(); ++len) {
    EXPECT_EQ(kind(key, v.substr(0, len)), Kind::kMalformed) << len;
  }
  EXPECT_EQ(kind(key, v + '\0'), Kind::kMalformed);
  for (const char format : {'\x00', '\x04', '\x7f', '\xff'}) {
    std::string bad = v;
    bad[0] = format;
    EXPECT_EQ(kind(key, bad), Kind::kMalformed) << static_cast<int>(format);
  }
  EXPECT_EQ(kind(key, value(EventTime{0}, 0, 0)), Kind::kMalformed);
  EXPECT_EQ(kind(key, value(EventTime{0}, -5, 1)), Kind::kMalformed);
  EXPECT_EQ(kind(key, value(EventTime{0}, 5, 0)), Kind::kMalformed);
  EXPECT_EQ(kind(key, value(EventTime{0}, 5, -1)), Kind::kMalformed);
  EXPECT_EQ(kind(key, value(EventTime{0}, 1, 2)), Kind::kMalformed);
  EXPECT_EQ(kind(key, value(EventTime{kMinEventTime.value - 1}, 1, 1)), Kind::kMalformed);
  EXPECT_EQ(kind(key, value(EventTime{kMaxEventTime.value + 1}, 1, 1)), Kind::kMalformed);

  // The late-size count must match the bytes that follow.
  const std::string late = value(EventTime{0}, 1, 1, 0b011U);
  ASSERT_EQ(kind(key, late), Kind::kDelta);
  EXPECT_EQ(kind(key, late.substr(0, late.size() - 1)), Kind::kMalformed);
  EXPECT_EQ(kind(key, late.substr(0, late.size() - 8)), Kind::kMalformed);
  EXPECT_EQ(kind(key, late + be64(86'400'000)), Kind::kMalformed);
  std::string more_announced = late;
  more_announced[25] = '\x03';
  EXPECT_EQ(kind(key, more_announced), Kind::kMalformed);
  std::string fewer_announced = late;
  fewer_announced[25] = '\x01';
  EXPECT_EQ(kind(key, fewer_announced), Kind::kMalformed);
  EXPECT_EQ(kind(key, v.substr(0, 25) + "\xff"s), Kind::kMalformed);
}

TEST(RepartitionRecord, RejectsMalformedWatermarks) {
  const std::string good = encode_watermark_value(PartitionId{2}, {EventTime{5}, false});
  ASSERT_EQ(kind("", good), Kind::kWatermark);
  // A watermark has no key.
  EXPECT_EQ(kind("k", good), Kind::kMalformed);
  EXPECT_EQ(kind(encode_repartition_key("auth", "login"), good), Kind::kMalformed);
  // Every truncation, trailing bytes, a time without its flag, a flag without its time.
  for (std::size_t len = 1; len < good.size(); ++len) {
    EXPECT_EQ(kind("", good.substr(0, len)), Kind::kMalformed) << len;
  }
  EXPECT_EQ(kind("", good + '\0'), Kind::kMalformed);
  EXPECT_EQ(kind("", "\x03\x00\x00\x00\x02\x00"s + be64(5)), Kind::kMalformed);
  EXPECT_EQ(kind("", "\x03\x00\x00\x00\x02\x01"s), Kind::kMalformed);
  EXPECT_EQ(kind("", "\x03\x00\x00\x00\x02\x03"s), Kind::kMalformed);
  // Unknown flags.
  for (const char flags : {'\x04', '\x05', '\x08', '\x80'}) {
    EXPECT_EQ(kind("", "\x03\x00\x00\x00\x02"s + flags + be64(5)), Kind::kMalformed)
        << static_cast<int>(flags);
    EXPECT_EQ(kind("", "\x03\x00\x00\x00\x02"s + flags), Kind::kMalformed)
        << static_cast<int>(flags);
  }
  // A negative input partition.
  EXPECT_EQ(kind("", "\x03\x80\x00\x00\x00\x00"s), Kind::kMalformed);
  EXPECT_EQ(kind("", "\x03\xff\xff\xff\xff\x01"s + be64(5)), Kind::kMalformed);
  // A time out of range.
  EXPECT_EQ(
      kind("", encode_watermark_value(PartitionId{0}, {EventTime{kMaxEventTime.value + 1}, false})),
      Kind::kMalformed);
  EXPECT_EQ(
      kind("", encode_watermark_value(PartitionId{0}, {EventTime{kMinEventTime.value - 1}, true})),
      Kind::kMalformed);
}

TEST(RepartitionRecord, Format1IsAnEarlierVersion) {
  // The value an auditor before per-partition event time wrote: u8 1, i64 event time,
  // i64 count, i64 ticks.
  const std::string key = encode_repartition_key("auth", "login");
  const std::string v1 = "\x01"s + be64(1'795'340'820'000) + be64(5) + be64(2);
  ASSERT_EQ(v1.size(), 25U);
  EXPECT_EQ(kind(key, v1), Kind::kEarlierVersion);
  // Whatever its content: it is recognised by its format and length, never read.
  EXPECT_EQ(kind(key, "\x01"s + be64(0) + be64(0) + be64(0)), Kind::kEarlierVersion);
  EXPECT_EQ(kind("", v1), Kind::kEarlierVersion);
  const RepartitionMessage m = decode(key, v1);
  EXPECT_EQ(m.delta.count, 0);
  EXPECT_EQ(m.delta.process_name, "");
  // Format 1 with another length is just malformed.
  EXPECT_EQ(kind(key, v1.substr(0, 24)), Kind::kMalformed);
  EXPECT_EQ(kind(key, v1 + '\0'), Kind::kMalformed);
  EXPECT_EQ(kind(key, "\x01"s), Kind::kMalformed);
  // A format-2 value is never mistaken for format 1, nor the other way round.
  std::string v2 = value(EventTime{0}, 5, 2);
  ASSERT_EQ(v2.size(), 26U);
  EXPECT_EQ(kind(key, v2), Kind::kDelta);
  v2[0] = '\x01';
  EXPECT_EQ(kind(key, v2), Kind::kMalformed);
}

TEST(RepartitionRecord, RandomBytesNeverCrashDecode) {
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_int_distribution<int> length(0, 40);
  const std::string valid[] = {
      value(EventTime{0}, 2, 1),
      value(EventTime{-1}, 9, 3, 0b110U),
      encode_watermark_value(PartitionId{3}, {EventTime{7}, true}),
      encode_watermark_value(PartitionId{3}, {std::nullopt, false}),
      "\x01"s + be64(0) + be64(2) + be64(1),
  };
  int kinds[4] = {};
  for (int i = 0; i < 20'000; ++i) {
    std::string key;
    if (i % 4 == 1) {
      // A valid key, sometimes with one byte changed.
      key = encode_repartition_key("auth", "login");
      if (i % 8 == 1)
        key[static_cast<std::size_t>(byte(rng)) % key.size()] = static_cast<char>(byte(rng));
    } else if (i % 4 != 0) {  // i % 4 == 0: empty, as a watermark's
      key.resize(static_cast<std::size_t>(length(rng)));
      for (char& c : key) c = static_cast<char>(byte(rng));
    }
    std::string v;
    if (i % 3 == 0) {
      // Entirely random, with one of the known formats first half of the time.
      v.resize(static_cast<std::size_t>(length(rng)));
      for (char& c : v) c = static_cast<char>(byte(rng));
      if (!v.empty() && i % 2 == 0) v[0] = static_cast<char>(1 + byte(rng) % 3);
    } else {
      // A valid value with one byte changed, maybe cut or extended.
      v = valid[static_cast<std::size_t>(i) % std::size(valid)];
      v[static_cast<std::size_t>(byte(rng)) % v.size()] = static_cast<char>(byte(rng));
      if (i % 5 == 0) v.resize(static_cast<std::size_t>(byte(rng)) % (v.size() + 9), '\x01');
    }
    const RepartitionMessage m = decode(key, v);
    ++kinds[static_cast<int>(m.kind)];
    if (m.kind == Kind::kDelta) {
      const RepartitionRecord& r = m.delta;
      EXPECT_EQ(r.process_name.size() + r.process_activity.size() + 2, key.size());
      EXPECT_FALSE(r.process_name.empty());
      EXPECT_FALSE(r.process_activity.empty());
      EXPECT_GE(r.ticks, 1);
      EXPECT_GE(r.count, r.ticks);
      EXPECT_LE(kMinEventTime, r.event_time);
      EXPECT_LE(r.event_time, kMaxEventTime);
      EXPECT_EQ(r.late_mask & ~0b111U, 0U);
    } else if (m.kind == Kind::kWatermark) {
      EXPECT_TRUE(key.empty());
      EXPECT_GE(m.input.value, 0);
      if (m.watermark.time) {
        EXPECT_LE(kMinEventTime, *m.watermark.time);
        EXPECT_LE(*m.watermark.time, kMaxEventTime);
      }
    } else if (m.kind == Kind::kEarlierVersion) {
      EXPECT_EQ(v.size(), 25U);
      EXPECT_EQ(v[0], '\x01');
    }
  }
  // The mix reached every outcome.
  for (const int n : kinds) EXPECT_GT(n, 0);
}

TEST(PartitionFor, IsFnv1a64ModuloPartitions) {
  // FNV-1a 64 reference values: "" -> cbf29ce484222325, "a" -> af63dc4c8601ec8c.
  EXPECT_EQ(partition_for("", 1'000'000'007).value,
            static_cast<std::int32_t>(0xcbf29ce484222325ULL % 1'000'000'007ULL));
  EXPECT_EQ(partition_for("a", 1'000'000'007).value,
            static_cast<std::int32_t>(0xaf63dc4c8601ec8cULL % 1'000'000'007ULL));
  EXPECT_EQ(partition_for("foobar", 2'147'483'647).value,
            static_cast<std::int32_t>(0x85944171f73967e8ULL % 2'147'483'647ULL));
}

TEST(PartitionFor, StableAndInRange) {
  // Pinned values: changing the hash would move every key to another task and its state.
  const std::string key = encode_repartition_key("auth", "login");
  EXPECT_EQ(partition_for(key, 6).value, 2);
  EXPECT_EQ(partition_for(key, 6).value, 2);
  EXPECT_EQ(partition_for(key, 1).value, 0);
  for (int n = 1; n <= 64; ++n) {
    for (const char* name : {"a", "b", "auth", "checkout", "\xc3\xa9"}) {
      const PartitionId p = partition_for(encode_repartition_key(name, "x"), n);
      EXPECT_GE(p.value, 0);
      EXPECT_LT(p.value, n);
    }
  }
  EXPECT_THROW((void)partition_for(key, 0), std::invalid_argument);
}

TEST(PartitionFor, SpreadsKeys) {
  int counts[8] = {};
  for (int i = 0; i < 8'000; ++i) {
    ++counts[partition_for(encode_repartition_key("process-" + std::to_string(i), "a"), 8).value];
  }
  for (const int c : counts) {
    EXPECT_GT(c, 850);
    EXPECT_LT(c, 1'150);
  }
}

}  // namespace
}  // namespace auditor
