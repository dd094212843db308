// Checkpoint encoding: round trips and strict rejection of anything it did not write.
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <random>
#include <string>

#include "state/key_encoding.h"

namespace auditor::state {
namespace {

using namespace std::string_literals;

TaskCheckpoint full_checkpoint() {
  TaskCheckpoint c;
  c.input_offset = Offset{12345};
  c.changelog_offset = Offset{0};
  c.progress.watermark = EventTime{-1};
  c.progress.watermarks = {{0, {EventTime{-1}, false}},
                           {1, {kMaxEventTime, true}},
                           {2, {std::nullopt, true}},
                           {7, {std::nullopt, false}},
                           {std::numeric_limits<std::int32_t>::max(), {kMinEventTime, false}}};
  c.progress.closed_before = {{60'000, EventTime{120'000}}, {3'600'000, kMinEventTime}};
  c.progress.expired_before = {{60'000, EventTime{-60'000}}, {86'400'000, kMaxEventTime}};
  return c;
}

// The bytes of an empty map (u32 0).
const std::string kEmptyMap = "\x00\x00\x00\x00"s;

std::string be64(std::int64_t v) {
  std::string out;
  for (int shift = 56; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>((static_cast<std::uint64_t>(v) >> shift) & 0xFFU));
  }
  return out;
}

std::string be32(std::uint32_t v) {
  std::string out;
  for (int shift = 24; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>((v >> shift) & 0xFFU));
  }
  return out;
}

// A checkpoint as version 1 wrote it: u8 1, u8 flags (1 input offset, 2 changelog offset,
// 4 stream time), the i64s the flags announce, then closed_before and expired_before as
// u32-counted lists of (i64 size, i64 bound). No watermarks.
std::string version1_checkpoint() {
  return "\x01\x07"s + be64(12345) + be64(40) + be64(1'795'305'600'000) + be32(1) + be64(60'000) +
         be64(1'795'305'500'000) + be32(1) + be64(60'000) + be64(1'795'305'000'000);
}

TEST(CheckpointEncoding, EmptyRoundTrips) {
  const TaskCheckpoint empty;
  const std::string bytes = encode_checkpoint(empty);
  // version 2, no flags, three empty maps: the format is persisted, so pin it.
  EXPECT_EQ(bytes, "\x02\x00"s + kEmptyMap + kEmptyMap + kEmptyMap);
  const auto decoded = decode_checkpoint(bytes);
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(*decoded, empty);
}

TEST(CheckpointEncoding, ExactBytes) {
  TaskCheckpoint c;
  c.input_offset = Offset{0x0102030405060708};
  c.changelog_offset = Offset{-2};
  c.progress.watermark = EventTime{0x111213141516};
  c.progress.closed_before = {{60'000, EventTime{-1}}};
  c.progress.expired_before = {{3'600'000, EventTime{5}}};
  c.progress.watermarks = {{0, {EventTime{9}, false}},
                           {3, {std::nullopt, true}},
                           {0x01020304, {EventTime{-3}, true}},
                           {0x05060708, {std::nullopt, false}}};
  const std::string expected =
      "\x02\x07"s + be64(0x0102030405060708) + be64(-2) + be64(0x111213141516) +
      // closed_before, expired_before
      be32(1) + be64(60'000) + be64(-1) + be32(1) + be64(3'600'000) + be64(5) +
      // watermarks: u32 n, then per partition u32 id, u8 flags (1 time, 2 idle), [i64]
      be32(4) + be32(0) + "\x01"s + be64(9) + be32(3) + "\x02"s + be32(0x01020304) + "\x03"s +
      be64(-3) + be32(0x05060708) + "\x00"s;
  EXPECT_EQ(encode_checkpoint(c), expected);
  const auto decoded = decode_checkpoint(expected);
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(*decoded, c);
}

TEST(CheckpointEncoding, FullRoundTrips) {
  const TaskCheckpoint full = full_checkpoint();
  const auto decoded = decode_checkpoint(encode_checkpoint(full));
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(*decoded, full);
}

TEST(CheckpointEncoding, EachOptionalIsIndependent) {
  for (int mask = 0; mask < 16; ++mask) {
    TaskCheckpoint c = full_checkpoint();
    if ((mask & 1) == 0) c.input_offset.reset();
    if ((mask & 2) == 0) c.changelog_offset.reset();
    if ((mask & 4) == 0) c.progress.watermark.reset();
    if ((mask & 8) == 0) c.progress.watermarks.clear();
    const auto decoded = decode_checkpoint(encode_checkpoint(c));
    ASSERT_TRUE(decoded.has_value()) << mask;
    EXPECT_EQ(*decoded, c) << mask;
  }
}

TEST(CheckpointEncoding, RandomRoundTrips) {
  std::mt19937_64 rng(7);
  auto any = [&] { return static_cast<std::int64_t>(rng()); };
  // Event times are bounded; a checkpoint holding one outside the bounds is damage.
  std::uniform_int_distribution<std::int64_t> any_time(kMinEventTime.value, kMaxEventTime.value);
  for (int i = 0; i < 2000; ++i) {
    TaskCheckpoint c;
    if (rng() % 2) c.input_offset = Offset{any()};
    if (rng() % 2) c.changelog_offset = Offset{any()};
    if (rng() % 2) c.progress.watermark = EventTime{any_time(rng)};
    for (auto n = rng() % 5; n > 0; --n) c.progress.closed_before[any()] = EventTime{any()};
    for (auto n = rng() % 5; n > 0; --n) c.progress.expired_before[any()] = EventTime{any()};
    for (auto n = rng() % 6; n > 0; --n) {
      const auto partition = static_cast<std::int32_t>(rng() % 2 ? rng() % 8 : rng() >> 33);
      PartitionWatermark wm;
      if (rng() % 2) wm.time = EventTime{any_time(rng)};
      wm.idle = rng() % 2 == 0;
      c.progress.watermarks[partition] = wm;
    }
    const auto decoded = decode_checkpoint(encode_checkpoint(c));
    ASSERT_TRUE(decoded.has_value()) << i;
    ASSERT_EQ(*decoded, c) << i;
  }
}

TEST(CheckpointEncoding, RejectsEveryTruncation) {
  const std::string bytes = encode_checkpoint(full_checkpoint());
  for (std::size_t len = 0; len < bytes.size(); ++len) {
    EXPECT_FALSE(decode_checkpoint(bytes.substr(0, len))) << "length " << len;
  }
}

TEST(CheckpointEncoding, RejectsTrailingBytes) {
  EXPECT_FALSE(decode_checkpoint(encode_checkpoint(full_checkpoint()) + "\0"s));
  EXPECT_FALSE(decode_checkpoint(encode_checkpoint(TaskCheckpoint{}) + "x"));
}

TEST(CheckpointEncoding, RejectsBadVersionAndUnknownFlags) {
  const std::string good = encode_checkpoint(TaskCheckpoint{});
  for (char version : {'\x00', '\x01', '\x03', '\xFF'}) {
    std::string bad = good;
    bad[0] = version;
    EXPECT_FALSE(decode_checkpoint(bad)) << static_cast<int>(version);
  }
  for (char flag : {'\x08', '\x10', '\x80'}) {
    std::string unknown_flag = good;
    unknown_flag[1] = flag;
    EXPECT_FALSE(decode_checkpoint(unknown_flag)) << static_cast<int>(flag);
  }
}

TEST(CheckpointEncoding, RejectsUnorderedOrDuplicateMapKeys) {
  const std::string head = "\x02\x00"s;
  const std::string one = be64(1);
  const std::string two = be64(2);
  const std::string count2 = be32(2);
  // Sanity: the same layout with ascending keys decodes.
  ASSERT_TRUE(decode_checkpoint(head + count2 + one + one + two + one + kEmptyMap + kEmptyMap));
  EXPECT_FALSE(decode_checkpoint(head + count2 + two + one + one + one + kEmptyMap + kEmptyMap));
  EXPECT_FALSE(decode_checkpoint(head + count2 + one + one + one + two + kEmptyMap + kEmptyMap));
  EXPECT_FALSE(decode_checkpoint(head + kEmptyMap + count2 + one + one + one + two + kEmptyMap));
}

TEST(CheckpointEncoding, RejectsMalformedWatermarks) {
  const std::string head = "\x02\x00"s + kEmptyMap + kEmptyMap;
  const auto entry = [](std::uint32_t partition, const std::string& flags_and_time) {
    return be32(partition) + flags_and_time;
  };
  const std::string at_5 = "\x01"s + be64(5);
  // Sanity: ascending partitions decode.
  const auto good = decode_checkpoint(head + be32(2) + entry(1, at_5) + entry(2, "\x02"s));
  ASSERT_TRUE(good.has_value());
  EXPECT_EQ(good->progress.watermarks,
            (PartitionWatermarks{{1, {EventTime{5}, false}}, {2, {std::nullopt, true}}}));

  // Descending or duplicate partitions.
  EXPECT_FALSE(decode_checkpoint(head + be32(2) + entry(2, at_5) + entry(1, "\x02"s)));
  EXPECT_FALSE(decode_checkpoint(head + be32(2) + entry(1, at_5) + entry(1, "\x02"s)));
  // A partition id that is negative as an int32.
  EXPECT_FALSE(decode_checkpoint(head + be32(1) + entry(0x80000000U, at_5)));
  EXPECT_FALSE(decode_checkpoint(head + be32(1) + entry(0xFFFFFFFFU, at_5)));
  EXPECT_TRUE(decode_checkpoint(head + be32(1) + entry(0x7FFFFFFFU, at_5)));
  // Unknown watermark flags.
  for (const char flags : {'\x04', '\x05', '\x80'}) {
    EXPECT_FALSE(decode_checkpoint(head + be32(1) + entry(0, std::string(1, flags) + be64(5))))
        << static_cast<int>(flags);
  }
  // "has time" without the time, and a time without the flag (trailing bytes).
  EXPECT_FALSE(decode_checkpoint(head + be32(1) + entry(0, "\x01"s)));
  EXPECT_FALSE(decode_checkpoint(head + be32(1) + entry(0, "\x00"s + be64(5))));
  // More entries announced than present.
  EXPECT_FALSE(decode_checkpoint(head + be32(2) + entry(0, at_5)));
  // Times outside the event-time bounds, per partition and as the task watermark.
  for (const std::int64_t t : {kMaxEventTime.value + 1, kMinEventTime.value - 1}) {
    EXPECT_FALSE(decode_checkpoint(head + be32(1) + entry(0, "\x01"s + be64(t)))) << t;
    EXPECT_FALSE(decode_checkpoint("\x02\x04"s + be64(t) + kEmptyMap + kEmptyMap + be32(0))) << t;
  }
  EXPECT_TRUE(decode_checkpoint("\x02\x04"s + be64(kMaxEventTime.value) + kEmptyMap + kEmptyMap +
                                be32(0)));
}

TEST(CheckpointEncoding, RejectsHugeCountWithoutData) {
  // A damaged count must fail fast on the missing entries, not allocate for them.
  EXPECT_FALSE(decode_checkpoint("\x02\x00\xFF\xFF\xFF\xFF"s));
  EXPECT_FALSE(decode_checkpoint("\x02\x00\x00\x00\x00\x00\xFF\xFF\xFF\xFF"s));
  EXPECT_FALSE(decode_checkpoint("\x02\x00"s + kEmptyMap + kEmptyMap + "\xFF\xFF\xFF\xFF"s));
}

TEST(CheckpointEncoding, RejectsGarbage) {
  EXPECT_FALSE(decode_checkpoint(""));
  EXPECT_FALSE(decode_checkpoint("m:checkpoint"));
  std::mt19937_64 rng(11);
  for (int i = 0; i < 5000; ++i) {
    std::string bytes(static_cast<std::size_t>(rng() % 64), '\0');
    for (char& c : bytes) c = static_cast<char>(rng() & 0xFF);
    // Half of them with the current version, so the decoder gets past the first byte.
    if (!bytes.empty() && i % 2 == 0) bytes[0] = '\x02';
    // Random bytes almost never form a checkpoint; when they do, they must be canonical.
    if (const auto decoded = decode_checkpoint(bytes)) {
      EXPECT_EQ(encode_checkpoint(*decoded), bytes);
    }
  }
}

TEST(CheckpointEncoding, Version1IsRecognisedAsEarlierAndNotDecoded) {
  const std::string v1 = version1_checkpoint();
  EXPECT_FALSE(decode_checkpoint(v1));
  EXPECT_TRUE(is_earlier_checkpoint_version(v1));
  // The empty version-1 checkpoint and one with only offsets.
  const std::string v1_empty = "\x01\x00"s + kEmptyMap + kEmptyMap;
  EXPECT_FALSE(decode_checkpoint(v1_empty));
  EXPECT_TRUE(is_earlier_checkpoint_version(v1_empty));
  const std::string v1_offsets = "\x01\x03"s + be64(1) + be64(2) + kEmptyMap + kEmptyMap;
  EXPECT_FALSE(decode_checkpoint(v1_offsets));
  EXPECT_TRUE(is_earlier_checkpoint_version(v1_offsets));
  // A version-1 checkpoint followed by an empty watermark map is still not version 2.
  EXPECT_FALSE(decode_checkpoint(v1_empty + kEmptyMap));
}

TEST(CheckpointEncoding, CurrentAndOtherVersionsAreNotEarlier) {
  EXPECT_FALSE(is_earlier_checkpoint_version(encode_checkpoint(TaskCheckpoint{})));
  EXPECT_FALSE(is_earlier_checkpoint_version(encode_checkpoint(full_checkpoint())));
  EXPECT_FALSE(is_earlier_checkpoint_version(""));
  EXPECT_FALSE(is_earlier_checkpoint_version("\x00"s));
  EXPECT_FALSE(is_earlier_checkpoint_version("\x03\x00"s));
  EXPECT_FALSE(is_earlier_checkpoint_version("\x07garbage"));
}

TEST(CheckpointEncoding, EarlierStateAdviceSaysWhatToDo) {
  const std::string advice(kEarlierStateAdvice);
  EXPECT_NE(advice.find("auditor reset"), std::string::npos);
  EXPECT_NE(advice.find("--to-earliest"), std::string::npos);
  EXPECT_NE(advice.find("--delete-state"), std::string::npos);
  EXPECT_NE(advice.find("--application-id"), std::string::npos);
}

}  // namespace
}  // namespace auditor::state
