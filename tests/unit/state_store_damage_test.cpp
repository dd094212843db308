// Damaged and inconsistent task stores (state/store_damage.h): which open failures mean
// damage (set aside and rebuild) and which do not (report, never delete), and when a
// checkpoint contradicts the offsets of its changelog and repartition partitions.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <stdexcept>
#include <string>
#include <system_error>

#include "state/store_damage.h"
#include "state/task_store.h"

namespace auditor::state {
namespace {

namespace fs = std::filesystem;

TaskCheckpoint checkpoint(std::optional<std::int64_t> changelog,
                          std::optional<std::int64_t> input) {
  TaskCheckpoint c;
  if (changelog) c.changelog_offset = Offset{*changelog};
  if (input) c.input_offset = Offset{*input};
  return c;
}

// --- checkpoint_inconsistency ---------------------------------------------------------

TEST(CheckpointInconsistency, ANewStoreMatchesAnything) {
  EXPECT_EQ(checkpoint_inconsistency(checkpoint({}, {}), {0, 0}, PartitionBounds{0, 0}),
            std::nullopt);
  EXPECT_EQ(checkpoint_inconsistency(checkpoint({}, {}), {5, 900}, std::nullopt), std::nullopt);
}

TEST(CheckpointInconsistency, AStoreWithinTheChangelogMatches) {
  // At the end (stopped cleanly), behind it (crashed, or the task ran elsewhere since),
  // and a store that reflects an empty changelog.
  EXPECT_EQ(checkpoint_inconsistency(checkpoint(120, 40), {0, 122}, PartitionBounds{40, 40}),
            std::nullopt);
  EXPECT_EQ(checkpoint_inconsistency(checkpoint(120, 40), {0, 5000}, PartitionBounds{0, 90}),
            std::nullopt);
  EXPECT_EQ(checkpoint_inconsistency(checkpoint(0, 0), {0, 0}, PartitionBounds{0, 0}),
            std::nullopt);
  // The repartition topic purged past the store (another owner went on): still sound.
  EXPECT_EQ(checkpoint_inconsistency(checkpoint(120, 40), {0, 200}, PartitionBounds{70, 90}),
            std::nullopt);
}

TEST(CheckpointInconsistency, AChangelogThatEndsBeforeTheStoreIsReported) {
  // auditor reset --keep-state: the changelog was deleted and recreated empty.
  const auto reason =
      checkpoint_inconsistency(checkpoint(120, 40), {0, 0}, PartitionBounds{40, 40});
  ASSERT_TRUE(reason.has_value());
  EXPECT_NE(reason->find("120"), std::string::npos) << *reason;
  EXPECT_NE(reason->find("ends at 0"), std::string::npos) << *reason;
  EXPECT_TRUE(checkpoint_inconsistency(checkpoint(121, 40), {0, 120}, std::nullopt).has_value());
}

TEST(CheckpointInconsistency, AChangelogThatStartsAfterTheStoreIsReported) {
  const auto reason = checkpoint_inconsistency(checkpoint(10, 40), {11, 300}, std::nullopt);
  ASSERT_TRUE(reason.has_value());
  EXPECT_NE(reason->find("starts at 11"), std::string::npos) << *reason;
  EXPECT_EQ(checkpoint_inconsistency(checkpoint(11, 40), {11, 300}, std::nullopt), std::nullopt);
}

TEST(CheckpointInconsistency, ARepartitionTopicThatEndsBeforeTheStoreIsReported) {
  const auto reason =
      checkpoint_inconsistency(checkpoint(120, 400), {0, 130}, PartitionBounds{0, 12});
  ASSERT_TRUE(reason.has_value());
  EXPECT_NE(reason->find("repartition"), std::string::npos) << *reason;
  // Unknown repartition bounds decide nothing.
  EXPECT_EQ(checkpoint_inconsistency(checkpoint(120, 400), {0, 130}, std::nullopt), std::nullopt);
}

// --- is_damage ------------------------------------------------------------------------

TEST(IsDamage, CorruptionAndMissingFilesAreDamage) {
  EXPECT_TRUE(is_damage(rocksdb::Status::Corruption("file is too short")));
  EXPECT_TRUE(is_damage(rocksdb::Status::PathNotFound("MANIFEST-000005")));
}

TEST(IsDamage, AnUnavailableStoreIsNotDamage) {
  EXPECT_FALSE(is_damage(rocksdb::Status::OK()));
  EXPECT_FALSE(is_damage(rocksdb::Status::NoSpace("No space left on device")));
  EXPECT_FALSE(is_damage(rocksdb::Status::IOError("lock hold by current process")));
  EXPECT_FALSE(is_damage(rocksdb::Status::IOError("Permission denied")));
}

// --- TaskStore::open on damaged files, against a real RocksDB --------------------------

class DamagedStoreTest : public ::testing::Test {
 protected:
  DamagedStoreTest() {
    std::random_device seed;
    root_ = fs::temp_directory_path() /
            ("auditor-damage-test-" +
             std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()) + "-" +
             std::to_string(seed()));
    dir_ = root_ / "task-0";
  }
  ~DamagedStoreTest() override {
    std::error_code ignored;  // best effort
    fs::remove_all(root_, ignored);
  }

  // A store with windows flushed into an SST file and a checkpoint.
  void build_store() {
    auto store = TaskStore::open(dir_);
    CommitResult commit;
    for (int i = 0; i < 2000; ++i) {
      commit.puts.emplace_back(WindowKey{DurationMs{60'000}, EventTime{60'000LL * i}, "proc",
                                         "act-" + std::to_string(i)},
                               WindowCounts{i + 1, 1});
    }
    ASSERT_TRUE(store->apply(commit, checkpoint(77, 12)).ok());
    ASSERT_TRUE(store->close().ok());
  }

  fs::path file_ending(const std::string& suffix, const std::string& prefix = "") const {
    for (const auto& e : fs::directory_iterator(dir_)) {
      const std::string name = e.path().filename().string();
      if (name.ends_with(suffix) && name.starts_with(prefix)) return e.path();
    }
    ADD_FAILURE() << "no file *" << suffix << " in " << dir_;
    return {};
  }

  // open() must throw StoreDamaged naming the directory.
  void expect_damaged() const {
    try {
      (void)TaskStore::open(dir_);
      ADD_FAILURE() << "open accepted a damaged store";
    } catch (const StoreDamaged& e) {
      EXPECT_NE(std::string(e.what()).find(dir_.string()), std::string::npos) << e.what();
    }
  }

  fs::path root_;
  fs::path dir_;
};

TEST_F(DamagedStoreTest, AnIntactStoreOpensWithItsCheckpoint) {
  build_store();
  const auto store = TaskStore::open(dir_);
  EXPECT_EQ(store->checkpoint(), checkpoint(77, 12));
}

TEST_F(DamagedStoreTest, ATruncatedSstFileIsDamage) {
  build_store();
  const fs::path sst = file_ending(".sst");
  fs::resize_file(sst, fs::file_size(sst) / 2);
  expect_damaged();
}

TEST_F(DamagedStoreTest, ADeletedSstFileIsDamage) {
  build_store();
  fs::remove(file_ending(".sst"));
  expect_damaged();
}

TEST_F(DamagedStoreTest, ADeletedOrTruncatedManifestIsDamage) {
  build_store();
  fs::remove(file_ending("", "MANIFEST-"));
  expect_damaged();
  fs::remove_all(dir_);
  build_store();
  fs::resize_file(file_ending("", "MANIFEST-"), 10);
  expect_damaged();
}

TEST_F(DamagedStoreTest, ADeletedOrTruncatedCurrentFileIsDamage) {
  build_store();
  fs::resize_file(dir_ / "CURRENT", 3);
  expect_damaged();
  fs::remove(dir_ / "CURRENT");
  // Without CURRENT, RocksDB would start an empty store over the remains.
  expect_damaged();
}

TEST_F(DamagedStoreTest, ALockedStoreIsNotDamage) {
  build_store();
  const auto holder = TaskStore::open(dir_);
  try {
    (void)TaskStore::open(dir_);
    ADD_FAILURE() << "a second open of a locked store succeeded";
  } catch (const StoreDamaged& e) {
    ADD_FAILURE() << "a locked store was called damaged: " << e.what();
  } catch (const std::runtime_error&) {
    // reported, and never set aside
  }
}

TEST_F(DamagedStoreTest, SetAsideMovesTheStoreAndKeepsOneCopy) {
  build_store();
  const fs::path aside = set_aside(dir_);
  EXPECT_EQ(aside, root_ / "task-0.damaged");
  EXPECT_FALSE(fs::exists(dir_));
  EXPECT_TRUE(fs::exists(aside / "CURRENT"));
  // A second damage of the same task replaces the first copy.
  build_store();
  EXPECT_EQ(set_aside(dir_), aside);
  EXPECT_FALSE(fs::exists(dir_));
  EXPECT_EQ(TaskStore::open(aside)->checkpoint(), checkpoint(77, 12));
}

}  // namespace
}  // namespace auditor::state
