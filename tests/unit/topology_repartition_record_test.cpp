#include <gtest/gtest.h>

#include <random>

#include "topology/repartition_record.h"

namespace auditor {
namespace {

TEST(RepartitionRecord, ExactBytes) {
  EXPECT_EQ(encode_repartition_key("auth", "login"), std::string("\x00\x04"
                                                                 "authlogin",
                                                                 11));
  EXPECT_EQ(encode_repartition_value(EventTime{0x0102030405060708}, 5, 2),
            std::string("\x01"
                        "\x01\x02\x03\x04\x05\x06\x07\x08"
                        "\x00\x00\x00\x00\x00\x00\x00\x05"
                        "\x00\x00\x00\x00\x00\x00\x00\x02",
                        25));
  EXPECT_EQ(encode_repartition_value(EventTime{-1}, 1, 1).substr(1, 8), std::string(8, '\xff'));
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
      const std::string key = encode_repartition_key(name, activity);
      const std::string value = encode_repartition_value(t, 1'000'000'000'000, 3);
      const std::optional<RepartitionRecord> r = decode_repartition_record(key, value);
      ASSERT_TRUE(r.has_value());
      EXPECT_EQ(r->process_name, name);
      EXPECT_EQ(r->process_activity, activity);
      EXPECT_EQ(r->event_time, t);
      EXPECT_EQ(r->count, 1'000'000'000'000);
      EXPECT_EQ(r->ticks, 3);
      // The views point into the key given to decode.
      EXPECT_EQ(r->process_name.data(), key.data() + 2);
    }
  }
  EXPECT_THROW((void)encode_repartition_key(std::string(65'536, 'x'), "y"), std::length_error);
}

TEST(RepartitionRecord, RejectsMalformedBytes) {
  const std::string key = encode_repartition_key("auth", "login");
  const std::string value = encode_repartition_value(EventTime{0}, 5, 2);
  ASSERT_TRUE(decode_repartition_record(key, value));

  // Keys: too short, name length past the end, empty name or activity.
  EXPECT_FALSE(decode_repartition_record("", value));
  EXPECT_FALSE(decode_repartition_record(std::string("\x00", 1), value));
  EXPECT_FALSE(decode_repartition_record(std::string("\x00\x05"
                                                     "auth",
                                                     6),
                                         value));
  EXPECT_FALSE(decode_repartition_record(std::string("\xff\xff"
                                                     "auth",
                                                     6),
                                         value));
  EXPECT_FALSE(decode_repartition_record(encode_repartition_key("", "login"), value));
  EXPECT_FALSE(decode_repartition_record(encode_repartition_key("auth", ""), value));

  // Values: length, version, counts, event time range.
  EXPECT_FALSE(decode_repartition_record(key, ""));
  EXPECT_FALSE(decode_repartition_record(key, value.substr(0, 24)));
  EXPECT_FALSE(decode_repartition_record(key, value + '\0'));
  std::string bad_version = value;
  bad_version[0] = 2;
  EXPECT_FALSE(decode_repartition_record(key, bad_version));
  EXPECT_FALSE(decode_repartition_record(key, encode_repartition_value(EventTime{0}, 0, 0)));
  EXPECT_FALSE(decode_repartition_record(key, encode_repartition_value(EventTime{0}, -5, 1)));
  EXPECT_FALSE(decode_repartition_record(key, encode_repartition_value(EventTime{0}, 5, 0)));
  EXPECT_FALSE(decode_repartition_record(key, encode_repartition_value(EventTime{0}, 5, -1)));
  EXPECT_FALSE(decode_repartition_record(key, encode_repartition_value(EventTime{0}, 1, 2)));
  EXPECT_FALSE(decode_repartition_record(
      key, encode_repartition_value(EventTime{kMinEventTime.value - 1}, 1, 1)));
  EXPECT_FALSE(decode_repartition_record(
      key, encode_repartition_value(EventTime{kMaxEventTime.value + 1}, 1, 1)));
}

TEST(RepartitionRecord, RandomBytesNeverCrashDecode) {
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_int_distribution<int> length(0, 40);
  for (int i = 0; i < 5'000; ++i) {
    std::string key(static_cast<std::size_t>(length(rng)), '\0');
    for (char& c : key) c = static_cast<char>(byte(rng));
    std::string value = encode_repartition_value(EventTime{0}, 2, 1);
    value[static_cast<std::size_t>(byte(rng)) % value.size()] = static_cast<char>(byte(rng));
    const auto r = decode_repartition_record(key, value);
    if (r) {
      EXPECT_LE(r->process_name.size() + r->process_activity.size() + 2, key.size());
      EXPECT_GE(r->count, r->ticks);
    }
  }
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
