// A full state directory (issue 13, fault 3). The replica's --state-dir is a small tmpfs
// that this test mounts (it must run as root; otherwise it is skipped, saying so). Once the
// worker runs on a stream of random ticks (seed in the log), a ballast file takes all the
// space that is left. The next store write after a Kafka commit fails: the worker must
// write no partial commit (a RocksDB batch is atomic), report unhealthy on /healthz with
// the reason while it stops, and exit non-zero with a message naming the store's directory
// and "no space left". With the ballast removed and the worker restarted, its stores catch
// up from the changelog (which holds the commit the store missed) and the final rollups
// equal the brute-force count: nothing lost, nothing counted twice.
#include <gtest/gtest.h>
#include <httplib.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

#include "tests/robustness/replicas.h"

namespace auditor::rb {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr int kKeys = 300;
constexpr std::int64_t kTicks = 12'000;
// Enough for six stores' start-up files (MANIFEST, OPTIONS, info LOG, WAL) with room to
// spare; the ballast takes the rest.
constexpr const char* kTmpfsSize = "size=24m";

// Mounts a tmpfs at `dir` for the test's lifetime.
class Tmpfs {
 public:
  explicit Tmpfs(fs::path dir) : dir_(std::move(dir)) {
    fs::create_directories(dir_);
    if (geteuid() != 0) {
      error_ = "not root (mounting a tmpfs needs it)";
      return;
    }
    if (::mount("tmpfs", dir_.c_str(), "tmpfs", 0, kTmpfsSize) != 0) {
      error_ = "mount -t tmpfs -o " + std::string(kTmpfsSize) + " tmpfs " + dir_.string() + ": " +
               std::strerror(errno);
      return;
    }
    mounted_ = true;
  }
  ~Tmpfs() {
    if (mounted_ && ::umount2(dir_.c_str(), MNT_DETACH) != 0) {
      std::cerr << "umount " << dir_ << ": " << std::strerror(errno) << "\n";
    }
  }
  Tmpfs(const Tmpfs&) = delete;
  Tmpfs& operator=(const Tmpfs&) = delete;

  [[nodiscard]] bool mounted() const { return mounted_; }
  [[nodiscard]] const std::string& error() const { return error_; }
  [[nodiscard]] const fs::path& dir() const { return dir_; }

  [[nodiscard]] std::uint64_t free_bytes() const {
    struct statvfs s {};
    if (::statvfs(dir_.c_str(), &s) != 0) return 0;
    return static_cast<std::uint64_t>(s.f_bavail) * s.f_frsize;
  }

 private:
  fs::path dir_;
  bool mounted_ = false;
  std::string error_;
};

// Writes `path` until the file system is full (ENOSPC): first in 1 MiB pieces, then 4 KiB.
// Returns the bytes written.
std::uint64_t fill(const fs::path& path) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) throw std::runtime_error("cannot create " + path.string());
  std::setvbuf(f, nullptr, _IONBF, 0);
  std::uint64_t written = 0;
  const std::string piece(1 << 20, 'x');
  for (std::size_t size : {std::size_t{1} << 20, std::size_t{4096}}) {
    while (std::fwrite(piece.data(), 1, size, f) == size) written += size;
    std::clearerr(f);
  }
  std::fclose(f);
  return written;
}

// What /healthz answered, polled every 20 ms until stopped: the first 503 body.
class HealthWatch {
 public:
  explicit HealthWatch(int port)
      : thread_([this, port] {
          httplib::Client client("127.0.0.1", port);
          client.set_connection_timeout(0, 200'000);
          client.set_read_timeout(1, 0);
          while (!stop_) {
            if (const auto res = client.Get("/healthz"); res && res->status == 503) {
              std::lock_guard lock(mu_);
              if (unhealthy_.empty()) unhealthy_ = res->body;
            }
            std::this_thread::sleep_for(20ms);
          }
        }) {}
  ~HealthWatch() {
    stop_ = true;
    thread_.join();
  }
  HealthWatch(const HealthWatch&) = delete;
  HealthWatch& operator=(const HealthWatch&) = delete;
  [[nodiscard]] std::string unhealthy() {
    std::lock_guard lock(mu_);
    return unhealthy_;
  }

 private:
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::string unhealthy_;
  std::thread thread_;  // last: started once the rest exists
};

TEST(FullDisk, StoreWriteFailsCleanlyAndTheRestartIsExact) {
  const Scenario scenario("full-disk");
  const WorkerConfig& cfg = scenario.cfg;
  Tmpfs tmpfs(it::work_dir() / "tmpfs" / cfg.app_id);
  if (!tmpfs.mounted()) GTEST_SKIP() << "no tmpfs for the state directory: " << tmpfs.error();

  const std::int64_t base = scenario.day + 10 * it::kHour;
  Replica solo(cfg, "solo", std::nullopt, tmpfs.dir() / "state");
  solo.start();
  PacedProducer ticks(cfg.input_topic,
                      TickSource(make_keys(kKeys), base, 10 * it::kMinute, scenario.seed), 100,
                      100ms, kTicks);
  ticks.start();
  ASSERT_EQ(wait_until([&] { return running_tasks(solo.log()) == all_tasks(); }, deadline_in(60s),
                       {&solo}, "solo: every task running"),
            "");
  std::this_thread::sleep_for(3s);  // a few commits with the stores written
  const auto port = http_port(solo.log());
  ASSERT_TRUE(port.has_value());

  // The disk fills up mid-stream.
  const fs::path ballast = tmpfs.dir() / "ballast";
  std::optional<test::ExitStatus> exit;
  std::string unhealthy;
  {
    HealthWatch health(*port);
    const std::uint64_t free_before = tmpfs.free_bytes();
    const std::uint64_t filled = fill(ballast);
    std::cerr << "ballast: " << filled << " bytes (" << free_before << " were free, "
              << tmpfs.free_bytes() << " now)\n";
    const auto full_at = Clock::now();
    exit = solo.process().wait(deadline_in(60s));
    std::cerr << "worker stopped " << seconds_since(full_at) << " s after the disk filled\n";
    unhealthy = health.unhealthy();
  }
  ASSERT_TRUE(exit.has_value()) << "the worker kept running on a full disk\n" << solo.report();
  EXPECT_FALSE(exit->clean()) << solo.report();
  std::cerr << "exit: " << exit->describe() << "\n/healthz while stopping: "
            << (unhealthy.empty() ? std::string("(no 503 seen)") : unhealthy) << "\n";
  std::string message;
  for (const auto& line : log_lines(solo.log())) {
    if (line.find("no space left") != std::string::npos &&
        line.find(tmpfs.dir().string()) != std::string::npos) {
      message = line;
    }
  }
  EXPECT_FALSE(message.empty()) << "no line naming the directory and \"no space left\"\n"
                                << solo.report();
  std::cerr << "message: " << message << "\n";
  if (!unhealthy.empty()) {
    EXPECT_NE(unhealthy.find("no space left"), std::string::npos) << unhealthy;
  }

  // Space again: the restarted worker catches up from the changelog.
  fs::remove(ballast);
  const auto restarted = Clock::now();
  solo.start();
  ASSERT_EQ(wait_until([&] { return running_tasks(solo.log()) == all_tasks(); }, deadline_in(60s),
                       {&solo}, "solo run 2: every task running"),
            "");
  const double to_running = seconds_since(restarted);
  EXPECT_EQ(count_lines(solo.log(), "rebuilding from the changelog"), 0U) << solo.report();
  ticks.join();
  RollupView view(cfg.output_topic, deadline_in(30s));
  const Verdict verdict =
      close_windows_and_compare(cfg, view, ticks.expected(), scenario.day, {&solo}, 120s);
  EXPECT_TRUE(verdict.ok()) << verdict.describe();
  std::cerr << "FULL DISK FIGURES: restart to every task running " << to_running << " s; "
            << ticks.expected().windows().size() << " windows, " << verdict.differences.size()
            << " differ from the brute-force count, " << verdict.missing_finals << " missing\n";
  EXPECT_EQ(solo.stop(30s), "");
}

}  // namespace
}  // namespace auditor::rb
