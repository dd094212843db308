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
  c.progress.stream_time = EventTime{-1};
  c.progress.closed_before = {{60'000, EventTime{120'000}}, {3'600'000, kMinEventTime}};
  c.progress.expired_before = {{60'000, EventTime{-60'000}}, {86'400'000, kMaxEventTime}};
  return c;
}

TEST(CheckpointEncoding, EmptyRoundTrips) {
  const TaskCheckpoint empty;
  const std::string bytes = encode_checkpoint(empty);
  // version 1, no flags, two empty maps: the format is persisted, so pin it.
  EXPECT_EQ(bytes, "\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00"s);
  const auto decoded = decode_checkpoint(bytes);
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(*decoded, empty);
}

TEST(CheckpointEncoding, FullRoundTrips) {
  const TaskCheckpoint full = full_checkpoint();
  const auto decoded = decode_checkpoint(encode_checkpoint(full));
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(*decoded, full);
}

TEST(CheckpointEncoding, EachOptionalIsIndependent) {
  for (int mask = 0; mask < 8; ++mask) {
    TaskCheckpoint c = full_checkpoint();
    if ((mask & 1) == 0) c.input_offset.reset();
    if ((mask & 2) == 0) c.changelog_offset.reset();
    if ((mask & 4) == 0) c.progress.stream_time.reset();
    const auto decoded = decode_checkpoint(encode_checkpoint(c));
    ASSERT_TRUE(decoded.has_value()) << mask;
    EXPECT_EQ(*decoded, c) << mask;
  }
}

TEST(CheckpointEncoding, RandomRoundTrips) {
  std::mt19937_64 rng(7);
  auto any = [&] { return static_cast<std::int64_t>(rng()); };
  for (int i = 0; i < 2000; ++i) {
    TaskCheckpoint c;
    if (rng() % 2) c.input_offset = Offset{any()};
    if (rng() % 2) c.changelog_offset = Offset{any()};
    if (rng() % 2) c.progress.stream_time = EventTime{any()};
    for (auto n = rng() % 5; n > 0; --n) c.progress.closed_before[any()] = EventTime{any()};
    for (auto n = rng() % 5; n > 0; --n) c.progress.expired_before[any()] = EventTime{any()};
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
  for (char version : {'\x00', '\x02', '\xFF'}) {
    std::string bad = good;
    bad[0] = version;
    EXPECT_FALSE(decode_checkpoint(bad)) << static_cast<int>(version);
  }
  std::string unknown_flag = good;
  unknown_flag[1] = '\x08';
  EXPECT_FALSE(decode_checkpoint(unknown_flag));
}

TEST(CheckpointEncoding, RejectsUnorderedOrDuplicateMapKeys) {
  const std::string head = "\x01\x00"s;
  const std::string empty_map = "\x00\x00\x00\x00"s;
  const std::string one = "\x00\x00\x00\x00\x00\x00\x00\x01"s;
  const std::string two = "\x00\x00\x00\x00\x00\x00\x00\x02"s;
  const std::string count2 = "\x00\x00\x00\x02"s;
  // Sanity: the same layout with ascending keys decodes.
  ASSERT_TRUE(decode_checkpoint(head + count2 + one + one + two + one + empty_map));
  EXPECT_FALSE(decode_checkpoint(head + count2 + two + one + one + one + empty_map));
  EXPECT_FALSE(decode_checkpoint(head + count2 + one + one + one + two + empty_map));
  EXPECT_FALSE(decode_checkpoint(head + empty_map + count2 + one + one + one + two));
}

TEST(CheckpointEncoding, RejectsHugeCountWithoutData) {
  // A damaged count must fail fast on the missing entries, not allocate for them.
  EXPECT_FALSE(decode_checkpoint("\x01\x00\xFF\xFF\xFF\xFF"s));
  EXPECT_FALSE(decode_checkpoint("\x01\x00\x00\x00\x00\x00\xFF\xFF\xFF\xFF"s));
}

TEST(CheckpointEncoding, RejectsGarbage) {
  EXPECT_FALSE(decode_checkpoint(""));
  EXPECT_FALSE(decode_checkpoint("m:checkpoint"));
  std::mt19937_64 rng(11);
  for (int i = 0; i < 5000; ++i) {
    std::string bytes(static_cast<std::size_t>(rng() % 64), '\0');
    for (char& c : bytes) c = static_cast<char>(rng() & 0xFF);
    // Random bytes almost never form a checkpoint; when they do, they must be canonical.
    if (const auto decoded = decode_checkpoint(bytes)) {
      EXPECT_EQ(encode_checkpoint(*decoded), bytes);
    }
  }
}

}  // namespace
}  // namespace auditor::state
