// A child process for tests: fork/exec with arguments, stdout+stderr into a log file,
// signals, waiting with a deadline. The destructor kills (SIGKILL) and reaps a child that
// is still running, and the child is killed too if the test process dies, so no test
// leaves a worker behind.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace auditor::test {

struct ExitStatus {
  bool exited = false;  // normal exit (then `code`), else killed by `signal`
  int code = 0;
  int signal = 0;

  [[nodiscard]] bool clean() const { return exited && code == 0; }
  [[nodiscard]] std::string describe() const;  // "exit code 0", "killed by signal 9 (Killed)"
};

class ChildProcess {
 public:
  // Starts `program` with `args` (not including argv[0]). Creates the log file's directory;
  // truncates the log. Throws std::runtime_error if fork fails or the program is not
  // executable.
  ChildProcess(const std::filesystem::path& program, const std::vector<std::string>& args,
               const std::filesystem::path& log_file);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  [[nodiscard]] pid_t pid() const { return pid_; }
  [[nodiscard]] const std::filesystem::path& log_file() const { return log_file_; }

  // False once the child has exited (reaps it; exit_status() then tells how).
  [[nodiscard]] bool running();
  [[nodiscard]] const std::optional<ExitStatus>& exit_status() const { return status_; }

  // Sends `sig` if the child is still running.
  void signal(int sig);

  // Waits for the child to exit; nullopt if it is still running at the deadline.
  std::optional<ExitStatus> wait(std::chrono::steady_clock::time_point deadline);

  // The last `lines` lines of the log, for failure messages.
  [[nodiscard]] std::string log_tail(std::size_t lines = 40) const;

 private:
  pid_t pid_ = -1;
  std::filesystem::path log_file_;
  std::optional<ExitStatus> status_;
};

}  // namespace auditor::test
