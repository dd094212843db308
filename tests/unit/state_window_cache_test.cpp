// WindowCache alone (a fake store bound) and TaskStore with its cache against a brute-force
// model: every get() must answer what RocksDB holds, whatever the cache holds or forgot.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "state/task_store.h"
#include "state/window_cache.h"

namespace auditor::state {
namespace {

constexpr DurationMs kMinute{60'000};
constexpr DurationMs kHour{3'600'000};

WindowKey window(DurationMs size, std::int64_t start, std::string name = "p",
                 std::string activity = "a") {
  return WindowKey{size, EventTime{start}, std::move(name), std::move(activity)};
}

// A store whose largest stored start per size is set by the test; counts the questions.
struct FakeBound {
  std::map<std::int64_t, std::optional<EventTime>> max_start;
  int asked = 0;
  WindowCache::StoredMaxStart fn() {
    return [this](DurationMs size) {
      ++asked;
      const auto it = max_start.find(size.value);
      return it == max_start.end() ? std::nullopt : it->second;
    };
  }
};

TEST(WindowCache, AnswersFromTheStoredBoundForWindowsItDoesNotHold) {
  FakeBound store;
  store.max_start[kMinute.value] = EventTime{10 * kMinute.value};
  WindowCache cache(1 << 20, store.fn());
  WindowCounts counts;
  EXPECT_EQ(cache.lookup(window(kMinute, 10 * kMinute.value), counts),
            WindowCache::Lookup::kUnknown);
  EXPECT_EQ(cache.lookup(window(kMinute, 3 * kMinute.value), counts),
            WindowCache::Lookup::kUnknown);
  EXPECT_EQ(cache.lookup(window(kMinute, 11 * kMinute.value), counts),
            WindowCache::Lookup::kAbsent);
  // A size the store holds nothing of: everything absent.
  EXPECT_EQ(cache.lookup(window(kHour, 0), counts), WindowCache::Lookup::kAbsent);
  EXPECT_EQ(store.asked, 2);  // once per size
}

TEST(WindowCache, HoldsWhatWasPutUntilErasedOrForgotten) {
  FakeBound store;
  WindowCache cache(1 << 20, store.fn());
  cache.before_write(kMinute);
  cache.put(window(kMinute, 0), WindowCounts{5, 2});
  cache.put(window(kMinute, kMinute.value), WindowCounts{1, 1});
  WindowCounts counts;
  ASSERT_EQ(cache.lookup(window(kMinute, 0), counts), WindowCache::Lookup::kHit);
  EXPECT_EQ(counts, (WindowCounts{5, 2}));
  cache.put(window(kMinute, 0), WindowCounts{7, 3});
  ASSERT_EQ(cache.lookup(window(kMinute, 0), counts), WindowCache::Lookup::kHit);
  EXPECT_EQ(counts, (WindowCounts{7, 3}));
  EXPECT_EQ(cache.size(), 2U);

  cache.erase(window(kMinute, kMinute.value));  // deleted from the store: absent
  EXPECT_EQ(cache.lookup(window(kMinute, kMinute.value), counts), WindowCache::Lookup::kAbsent);

  // Closed windows are dropped but may still be in the store: unknown, not absent.
  cache.forget_before(kMinute, EventTime{kMinute.value});
  EXPECT_EQ(cache.size(), 0U);
  EXPECT_EQ(cache.bytes(), 0U);
  EXPECT_EQ(cache.lookup(window(kMinute, 0), counts), WindowCache::Lookup::kUnknown);
  EXPECT_EQ(cache.lookup(window(kMinute, 2 * kMinute.value), counts), WindowCache::Lookup::kAbsent);
}

TEST(WindowCache, StartsOverWhenFullAndAsksTheStoreAgain) {
  FakeBound store;
  WindowCache cache(1000, store.fn());  // room for a few entries
  cache.before_write(kMinute);
  std::int64_t start = 0;
  while (cache.size() < 3) {
    cache.put(window(kMinute, start), WindowCounts{1, 1});
    start += kMinute.value;
  }
  const int asked_before = store.asked;
  // The store now holds everything written so far.
  store.max_start[kMinute.value] = EventTime{100 * kMinute.value};
  for (int i = 0; i < 100; ++i) {
    cache.put(window(kMinute, start), WindowCounts{1, 1});
    start += kMinute.value;
  }
  EXPECT_LE(cache.bytes(), 1000U);
  WindowCounts counts;
  // Written before the cache started over: not held, so the store must be read.
  EXPECT_EQ(cache.lookup(window(kMinute, 0), counts), WindowCache::Lookup::kUnknown);
  EXPECT_GT(store.asked, asked_before);  // the bound was asked again after starting over
}

TEST(WindowCache, ClearForgetsTheBounds) {
  FakeBound store;
  WindowCache cache(1 << 20, store.fn());
  WindowCounts counts;
  EXPECT_EQ(cache.lookup(window(kMinute, 0), counts), WindowCache::Lookup::kAbsent);
  store.max_start[kMinute.value] = EventTime{0};  // e.g. a restore wrote it
  cache.clear();
  EXPECT_EQ(cache.lookup(window(kMinute, 0), counts), WindowCache::Lookup::kUnknown);
}

// The store's answers with its cache against a model of what was applied, through commits
// that put, delete and close windows, a cache much too small, a restore (apply_raw) and a
// reopen (an empty cache over a full store).
TEST(TaskStoreWindowCache, GetAlwaysAnswersWhatTheStoreHolds) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("auditor-window-cache-" +
                    std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()));
  std::map<WindowKey, WindowCounts> model;
  std::mt19937_64 rng(7);
  std::vector<WindowKey> keys;
  for (int k = 0; k < 40; ++k) {
    for (std::int64_t m = 0; m < 30; ++m) {
      keys.push_back(window(kMinute, m * kMinute.value, "process-" + std::to_string(k),
                            k % 7 == 0 ? std::string(40, 'x') : "a"));
    }
    keys.push_back(window(kHour, 0, "process-" + std::to_string(k)));
  }
  const auto check = [&](const TaskStore& store) {
    for (const WindowKey& key : keys) {
      const auto got = store.get(key);
      const auto want = model.find(key);
      if (want == model.end()) {
        ASSERT_FALSE(got.has_value()) << key.start.value << " " << key.process_name;
      } else {
        ASSERT_TRUE(got.has_value()) << key.start.value << " " << key.process_name;
        ASSERT_EQ(*got, want->second);
      }
    }
    ASSERT_TRUE(store.read_status().ok());
  };
  {
    auto store = TaskStore::open(dir, 4096);  // a few dozen entries: starts over often
    TaskCheckpoint checkpoint;
    for (int commit = 0; commit < 60; ++commit) {
      CommitResult result;
      std::map<WindowKey, WindowCounts> puts;
      for (int i = 0; i < 25; ++i) {
        const WindowKey& key = keys[rng() % keys.size()];
        const WindowCounts current = store->get(key).value_or(WindowCounts{});
        puts[key] = WindowCounts{current.count + 3, current.ticks + 1};
      }
      for (const auto& [key, counts] : puts) result.puts.emplace_back(key, counts);
      if (commit % 9 == 8 && !model.empty()) {
        auto victim = model.begin();
        std::advance(victim, static_cast<long>(rng() % model.size()));
        if (!puts.contains(victim->first)) result.deletes.push_back(victim->first);
      }
      // Minute windows close as "time" advances; the cache must stop holding them.
      result.progress.closed_before[kMinute.value] = EventTime{(commit / 3) * kMinute.value};
      checkpoint.progress = result.progress;
      ASSERT_TRUE(store->apply(result, checkpoint).ok());
      for (const auto& [key, counts] : result.puts) model[key] = counts;
      for (const auto& key : result.deletes) model.erase(key);
      check(*store);
      if (commit == 30) {
        // A restore writes past the cache.
        const WindowKey& key = keys[5];
        model[key] = WindowCounts{1000, 10};
        TaskStore::RawEntry entry{encode_window_key(key), encode_counts(model[key])};
        ASSERT_TRUE(store->apply_raw({entry}, checkpoint).ok());
        check(*store);
      }
    }
    ASSERT_TRUE(store->close().ok());
  }
  auto reopened = TaskStore::open(dir);
  check(*reopened);
  ASSERT_TRUE(reopened->close().ok());
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace auditor::state
