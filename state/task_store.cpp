#include "state/task_store.h"

#include <rocksdb/cache.h>
#include <rocksdb/convenience.h>
#include <rocksdb/env.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/iterator.h>
#include <rocksdb/options.h>
#include <rocksdb/slice.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>
#include <rocksdb/write_buffer_manager.h>

#include <algorithm>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>

#include "state/changelog.h"
#include "state/store_damage.h"

namespace auditor::state {
namespace {

constexpr int kMaxOpenFiles = 256;
constexpr double kBloomBitsPerKey = 10;

// All stores of the process share one memory budget, however many tasks it holds and
// however many keys they have: the block cache holds data, index and filter blocks, and
// the memtables are charged to it as well (write buffer manager). Its sizes are set once
// (TaskStore::configure_memory) before the first store opens.
struct SharedMemory {
  StoreMemory sizes;
  std::shared_ptr<rocksdb::Cache> cache;
  std::shared_ptr<rocksdb::WriteBufferManager> write_buffers;
};

// What configure_memory set, until shared_memory() first builds the cache from it.
struct MemoryConfig {
  std::mutex mu;
  StoreMemory sizes;  // guarded by mu
  bool used = false;  // guarded by mu
};

MemoryConfig& memory_config() {
  static MemoryConfig config;
  return config;
}

const SharedMemory& shared_memory() {
  static const SharedMemory memory = [] {
    MemoryConfig& config = memory_config();
    const std::lock_guard lock(config.mu);
    config.used = true;
    SharedMemory m;
    m.sizes = config.sizes;
    m.cache = rocksdb::NewLRUCache(m.sizes.block_cache_bytes);
    m.write_buffers =
        std::make_shared<rocksdb::WriteBufferManager>(m.sizes.memtable_budget_bytes, m.cache);
    return m;
  }();
  return memory;
}

rocksdb::CompressionType pick_compression() {
  const auto supported = rocksdb::GetSupportedCompressions();
  const bool has_lz4 =
      std::find(supported.begin(), supported.end(), rocksdb::kLZ4Compression) != supported.end();
  return has_lz4 ? rocksdb::kLZ4Compression : rocksdb::kNoCompression;
}

// RocksDB's info LOG through a plain FILE*, written best effort. RocksDB's own file logger
// keeps a WritableFileWriter that, once a write failed (a full disk), aborts the process
// when the store is closed (7.8, built with assertions); a diagnostic log must not do that.
// Each open starts the file afresh (the previous one is kept as LOG.old), and it stops
// growing at kMaxBytes.
class InfoLog final : public rocksdb::Logger {
 public:
  explicit InfoLog(const std::filesystem::path& dir)
      : rocksdb::Logger(rocksdb::InfoLogLevel::INFO_LEVEL) {
    std::error_code ignored;  // best effort: a store works without its info log
    std::filesystem::rename(dir / "LOG", dir / "LOG.old", ignored);
    file_ = std::fopen((dir / "LOG").c_str(), "w");
  }
  ~InfoLog() override {
    if (file_ != nullptr) std::fclose(file_);
  }
  InfoLog(const InfoLog&) = delete;
  InfoLog& operator=(const InfoLog&) = delete;

  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list ap) override {
    std::lock_guard lock(mu_);
    if (file_ == nullptr || written_ > kMaxBytes) return;
    const int n = std::vfprintf(file_, format, ap);
    if (n > 0) written_ += static_cast<std::size_t>(n);
    std::fputc('\n', file_);
    std::fflush(file_);
  }

 private:
  static constexpr std::size_t kMaxBytes = 8 << 20;
  std::mutex mu_;
  std::FILE* file_ = nullptr;  // guarded by mu_
  std::size_t written_ = 0;    // guarded by mu_
};

rocksdb::Options make_options(const std::filesystem::path& dir) {
  rocksdb::Options options;
  options.info_log = std::make_shared<InfoLog>(dir);
  options.create_if_missing = true;
  options.compaction_style = rocksdb::kCompactionStyleLevel;
  options.max_open_files = kMaxOpenFiles;
  options.write_buffer_size = shared_memory().sizes.write_buffer_bytes;
  options.compression = pick_compression();
  // No preallocation: RocksDB would reserve 1.1 write buffers (8.8 MiB) per WAL file,
  // whatever the store holds, so many small stores would claim disk they never use, and a
  // full disk would show in a background flush later instead of failing the commit's own
  // write, which is atomic and leaves the store consistent (docs/architecture.md).
  options.allow_fallocate = false;
  // Most point lookups are for windows that are new in this commit; a bloom filter over
  // the memtable answers those without walking its skip list.
  options.memtable_whole_key_filtering = true;
  options.memtable_prefix_bloom_size_ratio = 0.05;

  options.write_buffer_manager = shared_memory().write_buffers;

  rocksdb::BlockBasedTableOptions table;
  table.block_cache = shared_memory().cache;
  // Index and filter blocks count against the budget too (otherwise they grow with the
  // data); level-0 ones stay pinned, as they are read on every lookup.
  table.cache_index_and_filter_blocks = true;
  table.pin_l0_filter_and_index_blocks_in_cache = true;
  // Point lookups (get() per changed window per commit) mostly hit new windows that are
  // not stored yet: the bloom filter answers those without reading a block.
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(kBloomBitsPerKey));
  options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  return options;
}

std::string describe(const std::filesystem::path& dir) {
  return "state store " + dir.string();
}

// Closes a DB that is being abandoned because open() failed; the open error is what the
// caller needs to see, so a close error on top of it is deliberately dropped.
void close_abandoned(std::unique_ptr<rocksdb::DB>& db) {
  if (db) db->Close().PermitUncheckedError();
  db.reset();
}

rocksdb::Status add_checkpoint(rocksdb::WriteBatch& batch, const TaskCheckpoint& checkpoint) {
  return batch.Put(kCheckpointKey, encode_checkpoint(checkpoint));
}

rocksdb::Status write(rocksdb::DB& db, rocksdb::WriteBatch& batch) {
  rocksdb::WriteOptions options;
  options.disableWAL = false;  // the WAL is what makes a commit survive a crash
  options.sync = false;        // a process crash is covered by the WAL in the page cache
  return db.Write(options, &batch);
}

// A store directory with RocksDB's files but without CURRENT lost the file that names its
// MANIFEST. RocksDB, told to create a missing store, would start an empty one over the
// remains instead of saying so (or fail on a leftover WAL): decide it here.
bool lost_current_file(const std::filesystem::path& dir) {
  std::error_code ec;
  if (std::filesystem::exists(dir / "CURRENT", ec)) return false;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    // LOCK and the info LOG are written before anything else: their presence alone is a
    // store that never finished being created, not a damaged one.
    if (name != "LOCK" && !name.starts_with("LOG")) return true;
  }
  return false;
}

// Open failures that mean the files are damaged become StoreDamaged (the caller sets the
// store aside and rebuilds it); the rest (lock held, no space, permission) stay errors.
[[noreturn]] void throw_open_error(const std::string& what, const rocksdb::Status& status) {
  if (is_damage(status)) throw StoreDamaged(what + ": " + status.ToString());
  throw std::runtime_error(what + ": " + status.ToString());
}

const rocksdb::Status& closed_error() {
  static const rocksdb::Status kClosed = rocksdb::Status::Aborted("state store is closed");
  return kClosed;
}

}  // namespace

std::unique_ptr<TaskStore> TaskStore::open(const std::filesystem::path& dir,
                                           std::size_t window_cache_bytes) {
  // RocksDB creates only the last path component; create the parents here so a fresh
  // --state-dir works, and report a path that is not a directory in our own words.
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    throw std::runtime_error("cannot create " + describe(dir) + ": " + ec.message());
  }
  if (!std::filesystem::is_directory(dir, ec)) {
    throw std::runtime_error("cannot open " + describe(dir) + ": not a directory");
  }

  if (lost_current_file(dir)) {
    throw StoreDamaged("cannot open " + describe(dir) + ": its CURRENT file is missing");
  }

  rocksdb::DB* raw = nullptr;
  const rocksdb::Status opened = rocksdb::DB::Open(make_options(dir), dir.string(), &raw);
  std::unique_ptr<rocksdb::DB> db(raw);
  if (!opened.ok()) {
    close_abandoned(db);
    throw_open_error("cannot open " + describe(dir), opened);
  }

  TaskCheckpoint checkpoint;
  std::string value;
  const rocksdb::Status read = db->Get(rocksdb::ReadOptions(), kCheckpointKey, &value);
  if (read.ok()) {
    auto decoded = decode_checkpoint(value);
    if (!decoded) {
      close_abandoned(db);
      if (is_earlier_checkpoint_version(value)) {
        throw std::runtime_error("the store " + describe(dir) +
                                 " cannot be used: " + std::string(kEarlierStateAdvice));
      }
      throw StoreDamaged("corrupt checkpoint in " + describe(dir));
    }
    checkpoint = std::move(*decoded);
  } else if (!read.IsNotFound()) {
    close_abandoned(db);
    throw_open_error("cannot read checkpoint of " + describe(dir), read);
  }
  return std::unique_ptr<TaskStore>(
      new TaskStore(std::move(db), std::move(checkpoint), window_cache_bytes));
}

TaskStore::TaskStore(std::unique_ptr<rocksdb::DB> db, TaskCheckpoint checkpoint,
                     std::size_t window_cache_bytes)
    : db_(std::move(db)),
      checkpoint_(std::move(checkpoint)),
      cache_(window_cache_bytes, [this](DurationMs size) { return stored_max_start(size); }) {}

std::optional<EventTime> TaskStore::stored_max_start(DurationMs size) const {
  if (!db_) return kMaxEventTime;
  rocksdb::ReadOptions options;
  options.fill_cache = false;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(options));
  // The last key before the first possible key of the next size: this size's largest start.
  it->SeekForPrev(window_range_bound(DurationMs{size.value + 1}, kMinEventTime));
  if (!it->status().ok()) {
    record_read_error(it->status());
    return kMaxEventTime;
  }
  if (!it->Valid()) return std::nullopt;
  const auto key = decode_window_key(it->key().ToStringView());
  if (!key || key->size != size) return std::nullopt;
  return key->start;
}

void TaskStore::follow_in_cache(const CommitResult& commit, const TaskCheckpoint& checkpoint) {
  for (const auto& [key, counts] : commit.puts) cache_.put(key, counts);
  for (const auto& key : commit.deletes) cache_.erase(key);
  // Closed windows no longer change: the cache stops holding them (queries read them from
  // RocksDB), but only when the bound moved, since it walks the whole cache.
  for (const auto& [size, closed] : checkpoint.progress.closed_before) {
    const auto before = checkpoint_.progress.closed_before.find(size);
    if (before == checkpoint_.progress.closed_before.end() || before->second < closed) {
      cache_.forget_before(DurationMs{size}, closed);
    }
  }
}

TaskStore::~TaskStore() {
  // A destructor cannot report: the error is discarded on purpose. Callers who care call
  // close() first, which makes this a no-op.
  if (db_ && !abandon_after_failed_write()) db_->Close().PermitUncheckedError();
}

bool TaskStore::abandon_after_failed_write() {
  if (failed_write_.ok()) return false;
  // RocksDB 7.8 (Debian builds it with assertions) aborts the process when it destroys a
  // WAL writer that saw an error (WritableFileWriter::AssertFalseAndGetStatusForPrevError),
  // which closing the store does. The worker stops after a failed write anyway: the handle
  // is left to the process's exit, which releases its files and lock. On disk the WAL ends
  // with the last complete batch, and the next open recovers up to it.
  (void)db_.release();  // deliberately leaked, see above
  return true;
}

rocksdb::Status TaskStore::read_status() const {
  std::lock_guard lock(read_status_mu_);
  return read_status_;
}

void TaskStore::clear_read_status() {
  std::lock_guard lock(read_status_mu_);
  read_status_ = rocksdb::Status::OK();
}

void TaskStore::record_read_error(const rocksdb::Status& status) const {
  std::lock_guard lock(read_status_mu_);
  if (read_status_.ok()) read_status_ = status;  // the first error is the informative one
}

std::optional<WindowCounts> TaskStore::get(const WindowKey& key) const {
  if (!db_) {
    record_read_error(closed_error());
    return std::nullopt;
  }
  WindowCounts cached;
  switch (cache_.lookup(key, cached)) {
    case WindowCache::Lookup::kHit:
      return cached;
    case WindowCache::Lookup::kAbsent:
      return std::nullopt;
    case WindowCache::Lookup::kUnknown:
      break;
  }
  rocksdb::PinnableSlice value;
  const rocksdb::Status s =
      db_->Get(rocksdb::ReadOptions(), db_->DefaultColumnFamily(), encode_window_key(key), &value);
  if (s.IsNotFound()) return std::nullopt;
  if (!s.ok()) {
    record_read_error(s);
    return std::nullopt;
  }
  auto counts = decode_counts(value.ToStringView());
  if (!counts) record_read_error(rocksdb::Status::Corruption("malformed window counts"));
  return counts;
}

void TaskStore::scan(
    DurationMs size, EventTime from, EventTime to,
    const std::function<void(const WindowKey&, const WindowCounts&)>& visit) const {
  if (!db_) {
    record_read_error(closed_error());
    return;
  }
  if (!(from < to)) return;
  const std::string lower = window_range_bound(size, from);
  const std::string upper = window_range_bound(size, to);
  const rocksdb::Slice upper_slice(upper);  // must outlive the iterator
  rocksdb::ReadOptions options;
  options.iterate_upper_bound = &upper_slice;
  // A range scan reads each block once; keep it from evicting the hot point-lookup blocks.
  options.fill_cache = false;

  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(options));
  for (it->Seek(lower); it->Valid(); it->Next()) {
    auto key = decode_window_key(it->key().ToStringView());
    auto counts = decode_counts(it->value().ToStringView());
    if (!key || !counts || key->size != size || key->start < from || !(key->start < to)) {
      record_read_error(rocksdb::Status::Corruption("malformed window entry in scan"));
      return;
    }
    visit(*key, *counts);
  }
  // Valid() turning false is also how an I/O error ends the loop.
  if (!it->status().ok()) record_read_error(it->status());
}

rocksdb::Status TaskStore::apply(const CommitResult& commit, const TaskCheckpoint& checkpoint) {
  return apply(commit, changelog_records(commit), checkpoint);
}

rocksdb::Status TaskStore::apply(const CommitResult& commit,
                                 const std::vector<ChangelogRecord>& changelog,
                                 const TaskCheckpoint& checkpoint) {
  if (!db_) return closed_error();
  if (const rocksdb::Status read = read_status(); !read.ok()) {
    return rocksdb::Status::Aborted("commit built on a failed read", read.ToString());
  }
  const std::size_t windows = commit.puts.size() + commit.deletes.size();
  if (changelog.size() != windows + 1) {
    return rocksdb::Status::InvalidArgument("changelog records do not match the commit");
  }
  // Puts come sorted by window size: tell the cache once per size.
  for (std::size_t i = 0; i < commit.puts.size(); ++i) {
    const DurationMs size = commit.puts[i].first.size;
    if (i == 0 || commit.puts[i - 1].first.size != size) cache_.before_write(size);
  }
  rocksdb::WriteBatch batch;
  for (std::size_t i = 0; i < windows; ++i) {
    const ChangelogRecord& record = changelog[i];
    rocksdb::Status s =
        record.value ? batch.Put(record.key, *record.value) : batch.Delete(record.key);
    if (!s.ok()) return s;
  }
  if (rocksdb::Status s = add_checkpoint(batch, checkpoint); !s.ok()) return s;
  rocksdb::Status s = write(*db_, batch);
  if (s.ok()) {
    follow_in_cache(commit, checkpoint);
    checkpoint_ = checkpoint;
  } else if (failed_write_.ok()) {
    failed_write_ = s;
  }
  return s;
}

rocksdb::Status TaskStore::apply_raw(const std::vector<RawEntry>& entries,
                                     const TaskCheckpoint& checkpoint) {
  if (!db_) return closed_error();
  rocksdb::WriteBatch batch;
  for (const RawEntry& entry : entries) {
    if (!entry.key.empty() && entry.key.front() == kCheckpointKey.front()) {
      return rocksdb::Status::InvalidArgument("raw entry in the metadata namespace");
    }
    rocksdb::Status s = entry.value ? batch.Put(entry.key, *entry.value) : batch.Delete(entry.key);
    if (!s.ok()) return s;
  }
  if (rocksdb::Status s = add_checkpoint(batch, checkpoint); !s.ok()) return s;
  // Raw entries are not decoded: the cache forgets everything rather than follow them.
  cache_.clear();
  rocksdb::Status s = write(*db_, batch);
  if (s.ok()) {
    checkpoint_ = checkpoint;
  } else if (failed_write_.ok()) {
    failed_write_ = s;
  }
  return s;
}

std::uint64_t TaskStore::estimated_keys() const {
  std::uint64_t keys = 0;
  if (!db_ || !db_->GetIntProperty(rocksdb::DB::Properties::kEstimateNumKeys, &keys)) return 0;
  return keys;
}

std::uint64_t TaskStore::memory_bytes() const {
  if (!db_) return 0;
  std::uint64_t total = 0;
  if (!db_->GetIntProperty(rocksdb::DB::Properties::kEstimateTableReadersMem, &total)) return 0;
  return total;
}

void TaskStore::configure_memory(const StoreMemory& memory) {
  MemoryConfig& config = memory_config();
  const std::lock_guard lock(config.mu);
  if (config.used) {
    throw std::logic_error("the stores' memory must be set before the first store opens");
  }
  config.sizes = memory;
}

std::uint64_t TaskStore::shared_memory_bytes() {
  return shared_memory().cache->GetUsage();
}

bool TaskStore::room_to_flush() const {
  std::uint64_t memtables = 0;
  if (!db_->GetIntProperty(rocksdb::DB::Properties::kCurSizeAllMemTables, &memtables)) {
    return false;
  }
  std::error_code ec;
  const auto space = std::filesystem::space(db_->GetName(), ec);
  // Twice the memtables (an SST is rarely larger) plus room for the MANIFEST and a WAL.
  constexpr std::uint64_t kSlackBytes = 1 << 20;
  return !ec && space.available >= 2 * memtables + kSlackBytes;
}

rocksdb::Status TaskStore::close() {
  if (!db_) return rocksdb::Status::OK();
  if (abandon_after_failed_write()) {
    return rocksdb::Status::Aborted("not closed after a failed write", failed_write_.ToString());
  }
  // Flushing makes the next open skip WAL replay and puts the data in fsynced files; the
  // store is closed even when the flush fails, and the first error is reported. It is
  // skipped when the disk might not hold the memtables: the WAL has them already, and a
  // flush that runs out of space can abort the process inside RocksDB (Debian builds it
  // with assertions) instead of returning an error.
  rocksdb::Status status;
  if (room_to_flush()) {
    rocksdb::FlushOptions flush;
    flush.wait = true;
    status = db_->Flush(flush);
  }
  rocksdb::Status closed = db_->Close();
  db_.reset();
  if (!status.ok()) {
    closed.PermitUncheckedError();  // the flush error came first and is the one to report
    return status;
  }
  return closed;
}

}  // namespace auditor::state
