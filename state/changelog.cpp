#include "state/changelog.h"

#include "state/key_encoding.h"

namespace auditor::state {

std::vector<ChangelogRecord> changelog_records(const CommitResult& commit) {
  std::vector<ChangelogRecord> records;
  records.reserve(commit.puts.size() + commit.deletes.size() + 1);
  for (const auto& [key, counts] : commit.puts) {
    records.push_back({encode_window_key(key), encode_counts(counts)});
  }
  for (const auto& key : commit.deletes) records.push_back({encode_window_key(key), std::nullopt});
  records.push_back(
      {std::string(kProgressKey), encode_checkpoint(TaskCheckpoint{{}, {}, commit.progress})});
  return records;
}

ChangelogRestore::ChangelogRestore(TaskStore& store, std::size_t batch_records)
    : store_(store), batch_records_(batch_records) {}

rocksdb::Status ChangelogRestore::add(std::string_view key, std::optional<std::string_view> value,
                                      Offset offset) {
  if (key == kProgressKey) {
    const auto decoded = value ? decode_checkpoint(*value) : std::nullopt;
    if (!decoded && value && is_earlier_checkpoint_version(*value)) {
      return rocksdb::Status::NotSupported("changelog at offset " + std::to_string(offset.value) +
                                           ": " + std::string(kEarlierStateAdvice));
    }
    if (!decoded) return rocksdb::Status::Corruption("changelog: malformed progress record");
    progress_ = decoded->progress;
  } else {
    if (!decode_window_key(key) || (value && !decode_counts(*value))) {
      return rocksdb::Status::Corruption("changelog: malformed window record");
    }
    pending_.push_back(
        {std::string(key), value ? std::optional<std::string>(*value) : std::nullopt});
  }
  ++records_applied_;
  next_ = Offset{offset.value + 1};
  if (pending_.size() >= batch_records_) return flush(next_);
  return rocksdb::Status::OK();
}

rocksdb::Status ChangelogRestore::flush(Offset next) {
  TaskCheckpoint checkpoint = store_.checkpoint();
  checkpoint.changelog_offset = next;
  if (progress_) checkpoint.progress = *progress_;
  auto status = store_.apply_raw(pending_, checkpoint);
  if (status.ok()) pending_.clear();
  return status;
}

}  // namespace auditor::state
