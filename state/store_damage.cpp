#include "state/store_damage.h"

#include <string>
#include <system_error>

namespace auditor::state {

bool is_damage(const rocksdb::Status& status) {
  if (status.IsCorruption()) return true;
  // A missing MANIFEST or SST is reported as an IOError with PathNotFound; a held lock, a
  // full disk or a permission error are IOErrors too, with other subcodes.
  return status.IsIOError() && status.subcode() == rocksdb::Status::kPathNotFound;
}

std::optional<std::string> checkpoint_inconsistency(const TaskCheckpoint& checkpoint,
                                                    PartitionBounds changelog,
                                                    std::optional<PartitionBounds> repartition) {
  if (const auto& at = checkpoint.changelog_offset) {
    // The store's offset is one past a record of a committed transaction, so the
    // changelog's end (even the last stable offset) is at or after it, unless those records
    // were deleted: the topic was recreated (reset) or lost data.
    if (at->value > changelog.high) {
      return "it reflects the changelog up to offset " + std::to_string(at->value) +
             " but the changelog ends at " + std::to_string(changelog.high) +
             " (deleted or recreated since, e.g. by auditor reset --keep-state)";
    }
    // The changelog is compacted, never truncated: records before its start were deleted
    // (DeleteRecords or a recreated topic), and the store would miss them.
    if (at->value < changelog.low) {
      return "it reflects the changelog up to offset " + std::to_string(at->value) +
             " but the changelog now starts at " + std::to_string(changelog.low) +
             " (the records in between were deleted)";
    }
  }
  if (const auto& at = checkpoint.input_offset;
      at && repartition && at->value > repartition->high) {
    return "it reflects the repartition topic up to offset " + std::to_string(at->value) +
           " but the topic ends at " + std::to_string(repartition->high) + " (recreated since)";
  }
  return std::nullopt;
}

std::filesystem::path set_aside(const std::filesystem::path& dir) {
  std::filesystem::path aside = dir;
  aside += ".damaged";
  std::error_code ec;
  std::filesystem::remove_all(aside, ec);
  if (!ec) std::filesystem::rename(dir, aside, ec);
  if (ec) {
    throw std::runtime_error("cannot move the damaged store " + dir.string() + " to " +
                             aside.string() + ": " + ec.message());
  }
  return aside;
}

}  // namespace auditor::state
