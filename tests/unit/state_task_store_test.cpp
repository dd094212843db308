// TaskStore against a real RocksDB in a temporary directory: reads see exactly what was
// applied, data and checkpoint survive reopening, damage is reported, never papered over.
#include <gtest/gtest.h>
#include <rocksdb/db.h>
#include <rocksdb/options.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "state/changelog.h"
#include "state/key_encoding.h"
#include "state/task_store.h"

namespace auditor::state {
namespace {

namespace fs = std::filesystem;
using namespace std::string_literals;
using Window = std::pair<WindowKey, WindowCounts>;

constexpr std::int64_t kMinute = 60'000;
constexpr std::int64_t kHour = 3'600'000;

// A fresh directory per test, removed afterwards (also when the test fails).
class TempDir {
 public:
  TempDir() {
    std::random_device seed;
    const auto unique =
        std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()) + "-" +
        std::to_string(seed());
    path_ = fs::temp_directory_path() / ("auditor-state-test-" + unique);
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ignored;  // best effort: a leftover temp dir must not fail a test
    fs::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  [[nodiscard]] const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

WindowKey key(std::int64_t size, std::int64_t start, std::string name, std::string activity) {
  return WindowKey{DurationMs{size}, EventTime{start}, std::move(name), std::move(activity)};
}

std::vector<Window> scan_all(const TaskStore& store, std::int64_t size, std::int64_t from,
                             std::int64_t to) {
  std::vector<Window> out;
  store.scan(DurationMs{size}, EventTime{from}, EventTime{to},
             [&](const WindowKey& k, const WindowCounts& c) { out.emplace_back(k, c); });
  return out;
}

TaskCheckpoint checkpoint_at(std::int64_t input, std::int64_t changelog, std::int64_t watermark) {
  TaskCheckpoint c;
  c.input_offset = Offset{input};
  c.changelog_offset = Offset{changelog};
  c.progress.watermarks = {{0, {EventTime{watermark}, false}},
                           {1, {EventTime{watermark + 7}, false}},
                           {2, {std::nullopt, true}}};
  c.progress.watermark = EventTime{watermark};
  c.progress.closed_before[kMinute] = EventTime{watermark - kMinute};
  return c;
}

std::string be64(std::int64_t v) {
  std::string out;
  for (int shift = 56; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>((static_cast<std::uint64_t>(v) >> shift) & 0xFFU));
  }
  return out;
}

// A checkpoint as an auditor before per-partition event time wrote it (version 1): u8 1,
// u8 flags (input offset, changelog offset, stream time), those i64s, then closed_before
// and expired_before as u32-counted (i64 size, i64 bound) lists.
std::string version1_checkpoint() {
  return "\x01\x07"s + be64(100) + be64(40) + be64(kHour) + "\x00\x00\x00\x01"s + be64(kMinute) +
         be64(kHour - kMinute) + "\x00\x00\x00\x00"s;
}

// Writes `value` under `key` behind the store's back, as damage would.
void write_raw(const fs::path& dir, const std::string& k, const std::string& value) {
  rocksdb::DB* raw = nullptr;
  rocksdb::Options options;
  options.create_if_missing = true;
  ASSERT_TRUE(rocksdb::DB::Open(options, dir.string(), &raw).ok());
  std::unique_ptr<rocksdb::DB> db(raw);
  ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), k, value).ok());
  ASSERT_TRUE(db->Close().ok());
}

class TaskStoreTest : public ::testing::Test {
 protected:
  fs::path store_dir() const { return temp_.path() / "tasks" / "0_3"; }
  TempDir temp_;
};

TEST_F(TaskStoreTest, NewStoreIsEmpty) {
  auto store = TaskStore::open(store_dir());  // parents are created
  EXPECT_EQ(store->checkpoint(), TaskCheckpoint{});
  EXPECT_FALSE(store->get(key(kMinute, 0, "a", "b")).has_value());
  EXPECT_TRUE(scan_all(*store, kMinute, kMinEventTime.value, kMaxEventTime.value).empty());
  EXPECT_TRUE(store->read_status().ok());
  EXPECT_EQ(store->estimated_keys(), 0U);
  EXPECT_TRUE(store->close().ok());
}

TEST_F(TaskStoreTest, ApplyThenGetAndScanSeeExactlyTheCommit) {
  auto store = TaskStore::open(store_dir());
  CommitResult commit;
  commit.puts = {
      {key(kMinute, 0, "auth", "login"), {10, 2}},     {key(kMinute, 0, "auth", "logout"), {1, 1}},
      {key(kMinute, kMinute, "a|b", "\"q\""), {7, 7}}, {key(kMinute, -kMinute, "old", "x"), {3, 1}},
      {key(kHour, 0, "auth", "login"), {11, 3}},
  };
  const TaskCheckpoint cp = checkpoint_at(100, 40, kMinute + 5);
  ASSERT_TRUE(store->apply(commit, cp).ok());
  EXPECT_EQ(store->checkpoint(), cp);

  for (const auto& [k, c] : commit.puts) {
    const auto got = store->get(k);
    ASSERT_TRUE(got.has_value()) << k.process_name;
    EXPECT_EQ(*got, c);
  }
  EXPECT_FALSE(store->get(key(kMinute, 0, "auth", "log")).has_value());
  EXPECT_FALSE(store->get(key(kHour, kMinute, "a|b", "\"q\"")).has_value());

  // [from, to): inclusive from, exclusive to, only the requested size, in key order.
  const std::vector<Window> minute_0 = {commit.puts[0], commit.puts[1]};
  EXPECT_EQ(scan_all(*store, kMinute, 0, kMinute), minute_0);
  const std::vector<Window> all_minutes = {commit.puts[3], commit.puts[0], commit.puts[1],
                                           commit.puts[2]};
  EXPECT_EQ(scan_all(*store, kMinute, -kMinute, 2 * kMinute), all_minutes);
  EXPECT_EQ(scan_all(*store, kHour, kMinEventTime.value, kMaxEventTime.value),
            std::vector<Window>{commit.puts[4]});
  EXPECT_TRUE(scan_all(*store, kMinute, 1, kMinute).empty());
  EXPECT_TRUE(scan_all(*store, kMinute, kMinute, kMinute).empty());  // empty range
  EXPECT_TRUE(scan_all(*store, kMinute, kMinute, 0).empty());        // reversed range
  EXPECT_TRUE(scan_all(*store, 2 * kMinute, kMinEventTime.value, kMaxEventTime.value).empty());

  // A second commit updates one window and deletes another.
  CommitResult second;
  second.puts = {{key(kMinute, 0, "auth", "login"), {15, 3}}};
  second.deletes = {key(kMinute, -kMinute, "old", "x")};
  const TaskCheckpoint cp2 = checkpoint_at(120, 42, kMinute + 9);
  ASSERT_TRUE(store->apply(second, cp2).ok());
  EXPECT_EQ(store->checkpoint(), cp2);
  EXPECT_EQ(store->get(key(kMinute, 0, "auth", "login")), (WindowCounts{15, 3}));
  EXPECT_FALSE(store->get(key(kMinute, -kMinute, "old", "x")).has_value());
  EXPECT_EQ(scan_all(*store, kMinute, -kMinute, 0), std::vector<Window>{});
  EXPECT_TRUE(store->read_status().ok());
  EXPECT_GT(store->estimated_keys(), 0U);
  // The memtable is charged to the budget every store shares.
  EXPECT_GT(TaskStore::shared_memory_bytes(), 0U);
  EXPECT_LE(TaskStore::shared_memory_bytes(), 128U << 20U);
}

TEST_F(TaskStoreTest, MemoryIsSetBeforeTheFirstStoreOpens) {
  // The stores' shared cache exists once any store opened. (The tests share a process, so
  // configure_memory's happy path is left to the worker's start: every integration test.)
  auto store = TaskStore::open(store_dir());
  EXPECT_THROW(TaskStore::configure_memory(StoreMemory{}), std::logic_error);
}

TEST_F(TaskStoreTest, DataAndCheckpointSurviveReopen) {
  CommitResult commit;
  commit.puts = {{key(kMinute, 0, "n\0ul"s, "a"), {1, 1}}, {key(kHour, 0, "n", "a"), {2, 2}}};
  const TaskCheckpoint cp = checkpoint_at(7, 3, 99);
  {
    auto store = TaskStore::open(store_dir());
    ASSERT_TRUE(store->apply(commit, cp).ok());
    ASSERT_TRUE(store->close().ok());
  }
  {
    auto store = TaskStore::open(store_dir());
    EXPECT_EQ(store->checkpoint(), cp);
    EXPECT_EQ(store->get(commit.puts[0].first), commit.puts[0].second);
    EXPECT_EQ(store->get(commit.puts[1].first), commit.puts[1].second);
    // No close(): the destructor closes, and the WAL carries the second commit.
    CommitResult more;
    more.deletes = {commit.puts[0].first};
    ASSERT_TRUE(store->apply(more, checkpoint_at(8, 4, 100)).ok());
  }
  auto store = TaskStore::open(store_dir());
  EXPECT_EQ(store->checkpoint(), checkpoint_at(8, 4, 100));
  EXPECT_FALSE(store->get(commit.puts[0].first).has_value());
  EXPECT_EQ(store->get(commit.puts[1].first), commit.puts[1].second);
}

TEST_F(TaskStoreTest, ApplyRawPutsDeletesAndRecordsCheckpoint) {
  auto store = TaskStore::open(store_dir());
  const WindowKey a = key(kMinute, 0, "a", "x");
  const WindowKey b = key(kMinute, 0, "b", "x");
  ASSERT_TRUE(store
                  ->apply_raw({{encode_window_key(a), encode_counts({4, 2})},
                               {encode_window_key(b), encode_counts({1, 1})}},
                              checkpoint_at(0, 2, 0))
                  .ok());
  EXPECT_EQ(store->get(a), (WindowCounts{4, 2}));
  EXPECT_EQ(store->checkpoint(), checkpoint_at(0, 2, 0));

  // nullopt deletes; later entries in the same batch win, as in the changelog.
  ASSERT_TRUE(store
                  ->apply_raw({{encode_window_key(b), std::nullopt},
                               {encode_window_key(a), encode_counts({5, 3})},
                               {encode_window_key(a), encode_counts({6, 4})}},
                              checkpoint_at(0, 5, 0))
                  .ok());
  EXPECT_EQ(store->get(a), (WindowCounts{6, 4}));
  EXPECT_FALSE(store->get(b).has_value());
  EXPECT_EQ(scan_all(*store, kMinute, 0, kMinute), (std::vector<Window>{{a, {6, 4}}}));
  EXPECT_TRUE(store->read_status().ok()) << store->read_status().ToString();  // b is gone
  EXPECT_EQ(store->checkpoint(), checkpoint_at(0, 5, 0));

  // An entry aimed at the metadata namespace is refused and nothing of the batch lands.
  const rocksdb::Status refused = store->apply_raw(
      {{encode_window_key(b), encode_counts({9, 9})}, {std::string(kCheckpointKey), "junk"}},
      checkpoint_at(0, 6, 0));
  EXPECT_TRUE(refused.IsInvalidArgument()) << refused.ToString();
  EXPECT_FALSE(store->get(b).has_value());
  EXPECT_EQ(store->checkpoint(), checkpoint_at(0, 5, 0));
  ASSERT_TRUE(store->close().ok());
  EXPECT_EQ(TaskStore::open(store_dir())->checkpoint(), checkpoint_at(0, 5, 0));
}

TEST_F(TaskStoreTest, MalformedValueIsAReadErrorAndBlocksApply) {
  auto store = TaskStore::open(store_dir());
  const WindowKey bad = key(kMinute, 0, "bad", "x");
  const WindowKey good = key(kMinute, 0, "good", "x");
  ASSERT_TRUE(store
                  ->apply_raw({{encode_window_key(bad), "short"},
                               {encode_window_key(good), encode_counts({1, 1})}},
                              TaskCheckpoint{})
                  .ok());

  EXPECT_FALSE(store->get(bad).has_value());
  EXPECT_TRUE(store->read_status().IsCorruption()) << store->read_status().ToString();

  // A commit computed from that read would overwrite the window with a delta.
  CommitResult commit;
  commit.puts = {{good, {2, 2}}};
  const rocksdb::Status refused = store->apply(commit, checkpoint_at(1, 1, 1));
  EXPECT_TRUE(refused.IsAborted()) << refused.ToString();
  EXPECT_EQ(store->get(good), (WindowCounts{1, 1}));
  EXPECT_EQ(store->checkpoint(), TaskCheckpoint{});

  store->clear_read_status();
  EXPECT_TRUE(store->read_status().ok());
  ASSERT_TRUE(store->apply(commit, checkpoint_at(1, 1, 1)).ok());
  EXPECT_EQ(store->get(good), (WindowCounts{2, 2}));

  // A scan stops at the damaged entry ("bad" sorts before "good") and reports it.
  EXPECT_TRUE(scan_all(*store, kMinute, 0, kMinute).empty());
  EXPECT_TRUE(store->read_status().IsCorruption());
}

TEST_F(TaskStoreTest, FirstReadErrorIsKept) {
  auto store = TaskStore::open(store_dir());
  ASSERT_TRUE(store
                  ->apply_raw({{encode_window_key(key(kMinute, 0, "a", "")), "1"},
                               {encode_window_key(key(kMinute, 0, "b", "")), "22"}},
                              TaskCheckpoint{})
                  .ok());
  EXPECT_FALSE(store->get(key(kMinute, 0, "a", "")).has_value());
  const std::string first = store->read_status().ToString();
  ASSERT_TRUE(store->close().ok());
  EXPECT_FALSE(store->get(key(kMinute, 0, "b", "")).has_value());  // closed: another error
  EXPECT_EQ(store->read_status().ToString(), first);
}

TEST_F(TaskStoreTest, CorruptCheckpointFailsOpenNamingTheDirectory) {
  fs::create_directories(store_dir());
  write_raw(store_dir(), std::string(kCheckpointKey), "\x07garbage");
  try {
    (void)TaskStore::open(store_dir());
    FAIL() << "open accepted a corrupt checkpoint";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(store_dir().string()), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("checkpoint"), std::string::npos) << e.what();
  }
}

TEST_F(TaskStoreTest, EarlierVersionCheckpointFailsOpenWithAdvice) {
  fs::create_directories(store_dir());
  write_raw(store_dir(), std::string(kCheckpointKey), version1_checkpoint());
  for (int attempt = 0; attempt < 2; ++attempt) {  // the failed open released the directory
    try {
      (void)TaskStore::open(store_dir());
      FAIL() << "open accepted a version-1 checkpoint";
    } catch (const std::runtime_error& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find(store_dir().string()), std::string::npos) << what;
      EXPECT_NE(what.find(kEarlierStateAdvice), std::string::npos) << what;
      EXPECT_EQ(what.find("corrupt"), std::string::npos) << what;
    }
  }
}

TEST_F(TaskStoreTest, RegularFileInsteadOfDirectoryFailsOpenNamingThePath) {
  const fs::path file = temp_.path() / "not-a-dir";
  std::ofstream(file) << "x";
  try {
    (void)TaskStore::open(file);
    FAIL() << "open accepted a regular file";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(file.string()), std::string::npos) << e.what();
  }
}

TEST_F(TaskStoreTest, SecondOpenOfTheSameDirectoryFails) {
  auto store = TaskStore::open(store_dir());
  try {
    (void)TaskStore::open(store_dir());
    FAIL() << "two stores on one directory";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(store_dir().string()), std::string::npos) << e.what();
  }
}

TEST_F(TaskStoreTest, ClosedStoreReportsErrors) {
  auto store = TaskStore::open(store_dir());
  ASSERT_TRUE(store->close().ok());
  EXPECT_TRUE(store->close().ok());  // idempotent
  EXPECT_FALSE(store->apply(CommitResult{}, TaskCheckpoint{}).ok());
  EXPECT_FALSE(store->apply_raw({}, TaskCheckpoint{}).ok());
  EXPECT_TRUE(scan_all(*store, kMinute, 0, kMinute).empty());
  EXPECT_FALSE(store->read_status().ok());
  EXPECT_EQ(store->estimated_keys(), 0U);
  EXPECT_EQ(store->memory_bytes(), 0U);
}

TEST_F(TaskStoreTest, ChangelogRestoreAppliesWatermarksInTheProgressRecord) {
  auto store = TaskStore::open(store_dir());
  CommitResult commit;
  commit.puts = {{key(kMinute, 0, "a", "x"), {3, 2}}};
  commit.progress = checkpoint_at(0, 0, 5 * kMinute).progress;
  ChangelogRestore restore(*store);
  Offset offset{10};
  for (const ChangelogRecord& r : changelog_records(commit)) {
    ASSERT_TRUE(restore.add(r.key, r.value, offset).ok());
    offset = Offset{offset.value + 1};
  }
  ASSERT_TRUE(restore.flush(Offset{20}).ok());
  EXPECT_EQ(store->get(key(kMinute, 0, "a", "x")), (WindowCounts{3, 2}));
  EXPECT_EQ(store->checkpoint().progress, commit.progress);
  EXPECT_EQ(store->checkpoint().changelog_offset, Offset{20});
}

TEST_F(TaskStoreTest, ChangelogRestoreRefusesAnEarlierVersionProgressRecord) {
  auto store = TaskStore::open(store_dir());
  ChangelogRestore restore(*store, 1);  // would write a batch per window record
  ASSERT_TRUE(
      restore.add(encode_window_key(key(kMinute, 0, "a", "x")), encode_counts({1, 1}), Offset{0})
          .ok());
  const std::string v1 = version1_checkpoint();
  const rocksdb::Status refused = restore.add(kProgressKey, v1, Offset{41});
  EXPECT_TRUE(refused.IsNotSupported()) << refused.ToString();
  EXPECT_NE(refused.ToString().find("41"), std::string::npos) << refused.ToString();
  EXPECT_NE(refused.ToString().find(kEarlierStateAdvice), std::string::npos) << refused.ToString();
  EXPECT_EQ(restore.records_applied(), 1U);

  // Nothing of it was applied: the progress flushed is still the store's own.
  ASSERT_TRUE(restore.flush(Offset{1}).ok());
  EXPECT_EQ(store->checkpoint().progress, TaskProgress{});
  EXPECT_EQ(store->checkpoint().changelog_offset, Offset{1});

  // Damage that is not an earlier version stays Corruption, also for a tombstone.
  EXPECT_TRUE(restore.add(kProgressKey, "\x07garbage"s, Offset{42}).IsCorruption());
  EXPECT_TRUE(restore.add(kProgressKey, std::nullopt, Offset{43}).IsCorruption());
  const std::string truncated = encode_checkpoint(checkpoint_at(1, 2, 3)).substr(0, 5);
  EXPECT_TRUE(restore.add(kProgressKey, truncated, Offset{44}).IsCorruption());
  EXPECT_EQ(restore.records_applied(), 1U);
}

// Random commits against a std::map model, with a reopen in the middle and enough data
// to reach SST files (flush on close), so reads come from both memtable and disk.
TEST_F(TaskStoreTest, MatchesModelOverRandomCommits) {
  std::mt19937_64 rng(42);
  auto pick = [&](std::int64_t n) {
    return std::uniform_int_distribution<std::int64_t>(0, n - 1)(rng);
  };
  const std::vector<std::int64_t> sizes = {kMinute, kHour};
  const std::vector<std::string> names = {"a", "a\0"s, "a|", "b", "é", ""};
  std::map<WindowKey, WindowCounts> model;
  auto store = TaskStore::open(store_dir());

  for (int round = 0; round < 40; ++round) {
    CommitResult commit;
    std::map<WindowKey, WindowCounts> puts;
    for (int i = 0; i < 100; ++i) {
      const auto size = sizes[static_cast<std::size_t>(pick(2))];
      WindowKey k = key(size, (pick(20) - 10) * size, names[static_cast<std::size_t>(pick(6))],
                        names[static_cast<std::size_t>(pick(6))] + std::to_string(pick(5)));
      puts[std::move(k)] = WindowCounts{pick(1000), pick(100)};
    }
    for (const auto& [k, c] : puts) {
      if (pick(5) == 0 && model.contains(k)) {
        commit.deletes.push_back(k);
        model.erase(k);
      } else {
        commit.puts.emplace_back(k, c);
        model[k] = c;
      }
    }
    ASSERT_TRUE(store->apply(commit, checkpoint_at(round, round, round)).ok());
    if (round == 20) {
      ASSERT_TRUE(store->close().ok());
      store = TaskStore::open(store_dir());
      ASSERT_EQ(store->checkpoint(), checkpoint_at(round, round, round));
    }
  }

  for (const auto& [k, c] : model) ASSERT_EQ(store->get(k), c);
  for (int i = 0; i < 200; ++i) {
    const auto size = sizes[static_cast<std::size_t>(pick(2))];
    const std::int64_t from = (pick(24) - 12) * size + pick(2);
    const std::int64_t to = from + pick(8) * size;
    std::vector<Window> expected;
    for (const auto& [k, c] : model) {
      if (k.size.value == size && from <= k.start.value && k.start.value < to) {
        expected.emplace_back(k, c);
      }
    }
    ASSERT_EQ(scan_all(*store, size, from, to), expected) << from << " " << to;
  }
  EXPECT_TRUE(store->read_status().ok());
}

}  // namespace
}  // namespace auditor::state
