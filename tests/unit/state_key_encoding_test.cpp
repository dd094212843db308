// Window key and counts encoding: round trips, bytewise order == WindowKey order, range
// bounds, and rejection of malformed bytes. Random cases use fixed seeds (reproducible).
#include <gtest/gtest.h>

#include <compare>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "state/key_encoding.h"

namespace auditor::state {
namespace {

using namespace std::string_literals;

constexpr std::int64_t kMinute = 60'000;
constexpr std::int64_t kHour = 3'600'000;
constexpr std::int64_t kDay = 86'400'000;

// Bytes that stress the encoding: the escape byte and its partners, separators other
// formats might use, quotes, and a multi-byte UTF-8 character.
const std::vector<std::string> kPieces = {"\0"s, "\x01", "\xFF", "|",  "\"", "\\",
                                          "a",   "b",    "é",    "日", ":"};

class KeyGen {
 public:
  explicit KeyGen(std::uint64_t seed) : rng_(seed) {}

  std::int64_t uniform(std::int64_t lo, std::int64_t hi) {
    return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng_);
  }

  // Names from a small alphabet so that shared prefixes (the hard case) are common;
  // sometimes arbitrary bytes up to 256 long.
  std::string name() {
    std::string s;
    if (uniform(0, 9) == 0) {
      const auto len = uniform(0, 256);
      for (std::int64_t i = 0; i < len; ++i) s.push_back(static_cast<char>(uniform(0, 255)));
      return s;
    }
    const auto pieces = uniform(0, 4);
    for (std::int64_t i = 0; i < pieces; ++i) {
      s += kPieces[static_cast<std::size_t>(uniform(0, std::ssize(kPieces) - 1))];
    }
    return s;
  }

  DurationMs size() {
    switch (uniform(0, 4)) {
      case 0:
        return DurationMs{kMinute};
      case 1:
        return DurationMs{kHour};
      case 2:
        return DurationMs{kDay};
      case 3:
        return DurationMs{1};
      default:
        return DurationMs{uniform(1, std::numeric_limits<std::int64_t>::max())};
    }
  }

  EventTime start() {
    switch (uniform(0, 4)) {
      case 0:
        return EventTime{uniform(-3, 3)};  // around the sign flip
      case 1:
        return EventTime{uniform(kMinEventTime.value, kMaxEventTime.value)};
      case 2:
        return kMinEventTime;
      case 3:
        return kMaxEventTime;
      default:
        return EventTime{uniform(std::numeric_limits<std::int64_t>::min(),
                                 std::numeric_limits<std::int64_t>::max())};
    }
  }

  WindowKey key() { return WindowKey{size(), start(), name(), name()}; }

  // Keys that often agree on a prefix of their fields, so every comparison level is hit.
  WindowKey near(const WindowKey& base) {
    WindowKey k = base;
    switch (uniform(0, 3)) {
      case 0:
        k.process_activity = name();
        break;
      case 1:
        k.process_name = name();
        break;
      case 2:
        // Neighbouring starts, without overflowing at the int64 extremes.
        if (k.start.value > std::numeric_limits<std::int64_t>::min() &&
            k.start.value < std::numeric_limits<std::int64_t>::max()) {
          k.start = EventTime{k.start.value + uniform(-1, 1)};
        }
        break;
      default:
        k = key();
        break;
    }
    return k;
  }

 private:
  std::mt19937_64 rng_;
};

int sign(std::strong_ordering o) {
  return o < 0 ? -1 : (o > 0 ? 1 : 0);
}

TEST(WindowKeyEncoding, RoundTripsRandomKeys) {
  KeyGen gen(1);
  for (int i = 0; i < 20000; ++i) {
    const WindowKey key = gen.key();
    const std::string bytes = encode_window_key(key);
    const auto decoded = decode_window_key(bytes);
    ASSERT_TRUE(decoded.has_value()) << "case " << i;
    ASSERT_EQ(*decoded, key) << "case " << i;
  }
}

TEST(WindowKeyEncoding, RoundTripsEdgeCases) {
  const std::string all_bytes = [] {
    std::string s;
    for (int b = 0; b < 256; ++b) s.push_back(static_cast<char>(b));
    return s;
  }();
  const std::vector<WindowKey> keys = {
      {DurationMs{kMinute}, EventTime{0}, "auth", "login"},
      {DurationMs{kMinute}, EventTime{-kMinute}, "a|b", "c|d"},
      {DurationMs{kHour}, kMinEventTime, "\"quoted\"", "\\"},
      {DurationMs{kDay}, kMaxEventTime, "\0"s, "\0"s},
      {DurationMs{kDay}, EventTime{0}, "\0\x01\0\xFF"s, "\0\x01"s},
      {DurationMs{kDay}, EventTime{0}, "", ""},
      {DurationMs{1}, EventTime{std::numeric_limits<std::int64_t>::min()}, "x", "y"},
      {DurationMs{std::numeric_limits<std::int64_t>::max()},
       EventTime{std::numeric_limits<std::int64_t>::max()}, "x", "y"},
      {DurationMs{kMinute}, EventTime{0}, all_bytes, all_bytes},
      {DurationMs{kMinute}, EventTime{0}, std::string(256, '\0'), std::string(256, '\xFF')},
      {DurationMs{kMinute}, EventTime{0}, "Grüße 日本 🚀", "ünïcödé"},
  };
  for (const WindowKey& key : keys) {
    const auto decoded = decode_window_key(encode_window_key(key));
    ASSERT_TRUE(decoded.has_value()) << key.process_name;
    EXPECT_EQ(*decoded, key);
  }
}

// The byte layout is persisted (RocksDB, changelog): pin it.
TEST(WindowKeyEncoding, LayoutIsStable) {
  const WindowKey key{DurationMs{kMinute}, EventTime{-1}, "a\0b"s, "c"};
  const std::string expected =
      "w"
      "\x00\x00\x00\x00\x00\x00\xEA\x60"  // 60000
      "\x7F\xFF\xFF\xFF\xFF\xFF\xFF\xFF"  // -1 with the sign bit flipped
      "a\x00\xFF"
      "b\x00\x01"
      "c"s;
  EXPECT_EQ(encode_window_key(key), expected);
}

TEST(WindowKeyEncoding, BytewiseOrderEqualsKeyOrder) {
  KeyGen gen(2);
  for (int i = 0; i < 50000; ++i) {
    const WindowKey a = gen.key();
    const WindowKey b = gen.near(a);
    const int want = sign(a <=> b);
    const int got = sign(encode_window_key(a).compare(encode_window_key(b)) <=> 0);
    ASSERT_EQ(got, want) << "case " << i << ": '" << a.process_name << "'/'" << a.process_activity
                         << "' vs '" << b.process_name << "'/'" << b.process_activity << "'";
  }
}

TEST(WindowKeyEncoding, NamePrefixesAndSplitsOrderLikeStrings) {
  const DurationMs m{kMinute};
  const EventTime t{0};
  // Each key is smaller than the next, by WindowKey order.
  const std::vector<WindowKey> ascending = {
      {m, t, "", "z"},           {m, t, "\0"s, ""},   {m, t, "\0\0"s, ""}, {m, t, "\0\x01"s, ""},
      {m, t, "a", "bc"},         {m, t, "a", "c"},    {m, t, "a\0"s, ""},  {m, t, "a\x01", ""},
      {m, t, "ab", "c"},         {m, t, "a\xFF", ""}, {m, t, "b", ""},     {m, t, "é", ""},
      {m, EventTime{1}, "", ""},
  };
  for (std::size_t i = 0; i + 1 < ascending.size(); ++i) {
    ASSERT_LT(ascending[i], ascending[i + 1]) << i;  // the list itself is right
    EXPECT_LT(encode_window_key(ascending[i]), encode_window_key(ascending[i + 1])) << i;
  }
}

TEST(WindowKeyEncoding, NegativeStartsSortBeforePositive) {
  const DurationMs d{kDay};
  std::vector<std::int64_t> starts = {std::numeric_limits<std::int64_t>::min(),
                                      kMinEventTime.value,
                                      -kDay,
                                      -1,
                                      0,
                                      1,
                                      kDay,
                                      kMaxEventTime.value,
                                      std::numeric_limits<std::int64_t>::max()};
  for (std::size_t i = 0; i + 1 < starts.size(); ++i) {
    EXPECT_LT(encode_window_key({d, EventTime{starts[i]}, "n", "a"}),
              encode_window_key({d, EventTime{starts[i + 1]}, "n", "a"}))
        << starts[i];
  }
}

TEST(WindowKeyEncoding, RangeBoundBracketsExactlyTheWindowsOfThatSize) {
  KeyGen gen(3);
  const std::vector<std::int64_t> sizes = {kMinute - 1, kMinute, kMinute + 1, kHour};
  for (int round = 0; round < 200; ++round) {
    const DurationMs size{kMinute};
    const std::int64_t a = gen.uniform(-5, 5) * kMinute;
    const std::int64_t b = a + gen.uniform(0, 4) * kMinute;
    const std::string lo = window_range_bound(size, EventTime{a});
    const std::string hi = window_range_bound(size, EventTime{b});
    for (int i = 0; i < 200; ++i) {
      WindowKey key = gen.key();
      key.size = DurationMs{sizes[static_cast<std::size_t>(gen.uniform(0, 3))]};
      key.start = EventTime{a + gen.uniform(-2, 6) * kMinute + gen.uniform(-1, 1)};
      const std::string enc = encode_window_key(key);
      const bool want = key.size == size && a <= key.start.value && key.start.value < b;
      const bool got = lo <= enc && enc < hi;
      ASSERT_EQ(got, want) << "size " << key.size.value << " start " << key.start.value
                           << " range [" << a << ", " << b << ")";
    }
  }
}

TEST(WindowKeyEncoding, RangeBoundIsNotAKey) {
  EXPECT_FALSE(decode_window_key(window_range_bound(DurationMs{kMinute}, EventTime{0})));
  EXPECT_FALSE(decode_window_key(kCheckpointKey));
}

TEST(WindowKeyEncoding, RejectsTruncationBeforeTheActivity) {
  const WindowKey key{DurationMs{kHour}, EventTime{-kHour}, "na\0me"s, "act"};
  const std::string bytes = encode_window_key(key);
  const std::size_t activity_at = bytes.size() - key.process_activity.size();
  for (std::size_t len = 0; len < activity_at; ++len) {
    EXPECT_FALSE(decode_window_key(bytes.substr(0, len))) << "length " << len;
  }
  // The activity runs to the end, so cutting it yields another (valid) key, never this one.
  for (std::size_t len = activity_at; len < bytes.size(); ++len) {
    const auto decoded = decode_window_key(bytes.substr(0, len));
    ASSERT_TRUE(decoded.has_value());
    EXPECT_NE(*decoded, key);
  }
}

TEST(WindowKeyEncoding, RejectsGarbage) {
  const std::string good = encode_window_key({DurationMs{kMinute}, EventTime{0}, "n", "a"});
  auto with = [&](std::size_t pos, char c) {
    std::string s = good;
    s[pos] = c;
    return s;
  };
  EXPECT_FALSE(decode_window_key(""));
  EXPECT_FALSE(decode_window_key(with(0, 'm')));  // metadata prefix
  EXPECT_FALSE(decode_window_key(with(0, 'x')));
  EXPECT_FALSE(decode_window_key(std::string(good.size(), '\0')));
  // Size 0 and negative sizes are never written.
  std::string zero_size = good;
  for (std::size_t i = 1; i <= 8; ++i) zero_size[i] = '\0';
  EXPECT_FALSE(decode_window_key(zero_size));
  EXPECT_FALSE(decode_window_key(with(1, '\x80')));
  // Escape byte followed by neither 0xFF nor 0x01, or dangling at the end.
  const std::string prefix = good.substr(0, 17);
  EXPECT_FALSE(decode_window_key(prefix + "n\x00\x02"s + "a"));
  EXPECT_FALSE(decode_window_key(prefix + "n\x00"s));
  EXPECT_FALSE(decode_window_key(prefix + "n"));
}

// Whatever random bytes decode must be the one canonical encoding of that key, so no two
// stored byte strings can alias the same window.
TEST(WindowKeyEncoding, DecodableBytesAreCanonical) {
  KeyGen gen(4);
  int decoded_count = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string bytes = i % 2 == 0 ? encode_window_key(gen.key()) : std::string();
    // Mutate a valid key, or build random bytes with a valid prefix byte.
    if (bytes.empty()) {
      bytes.push_back('w');
      const auto len = gen.uniform(0, 40);
      for (std::int64_t j = 0; j < len; ++j) {
        bytes.push_back(kPieces[static_cast<std::size_t>(gen.uniform(0, 2))][0]);
      }
    } else {
      const auto pos = static_cast<std::size_t>(gen.uniform(0, std::ssize(bytes) - 1));
      bytes[pos] = static_cast<char>(gen.uniform(0, 255));
    }
    if (const auto key = decode_window_key(bytes)) {
      ++decoded_count;
      ASSERT_EQ(encode_window_key(*key), bytes) << "case " << i;
    }
  }
  EXPECT_GT(decoded_count, 1000);  // the property was actually exercised
}

TEST(CountsEncoding, RoundTrips) {
  KeyGen gen(5);
  std::vector<WindowCounts> cases = {{0, 0}, {1, 1}, {std::numeric_limits<std::int64_t>::max(), 1}};
  for (int i = 0; i < 1000; ++i) {
    cases.push_back({gen.uniform(0, std::numeric_limits<std::int64_t>::max()),
                     gen.uniform(0, std::numeric_limits<std::int64_t>::max())});
  }
  for (const WindowCounts& c : cases) {
    const std::string bytes = encode_counts(c);
    ASSERT_EQ(bytes.size(), 16U);
    const auto decoded = decode_counts(bytes);
    ASSERT_TRUE(decoded.has_value());
    EXPECT_EQ(*decoded, c);
  }
  EXPECT_EQ(encode_counts({258, 1}), "\0\0\0\0\0\0\x01\x02\0\0\0\0\0\0\0\x01"s);
}

TEST(CountsEncoding, RejectsWrongLengthAndNegatives) {
  const std::string good = encode_counts({5, 3});
  EXPECT_FALSE(decode_counts(""));
  EXPECT_FALSE(decode_counts(good.substr(0, 15)));
  EXPECT_FALSE(decode_counts(good + "x"));
  EXPECT_FALSE(decode_counts(encode_counts({-1, 3})));
  EXPECT_FALSE(decode_counts(encode_counts({5, -3})));
}

}  // namespace
}  // namespace auditor::state
