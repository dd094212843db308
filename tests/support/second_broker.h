// A broker of the test's own: scripts/kafka.sh with another home and other ports, so that
// stopping it (an outage), moving it to other addresses (a partition) or securing it
// (--secure) does not disturb the shared broker every other test uses. Its first start
// may download the broker jars.
#pragma once

#include <string>

namespace auditor::test {

class SecondBroker {
 public:
  // `name` picks the home (<work>/<name>, or $AUDITOR_<NAME>_HOME) and ports (`port`,
  // `port` + 1 for the controller and, secured, `port` + 2 for the brokers' own listener;
  // or $AUDITOR_<NAME>_PORT). `host`: the address it listens on and advertises (one the
  // test made for a partition; 127.0.0.1 otherwise). `secure`: kafka.sh --secure.
  explicit SecondBroker(std::string name, int port, std::string host = "127.0.0.1",
                        bool secure = false);
  ~SecondBroker();  // stops it
  SecondBroker(const SecondBroker&) = delete;
  SecondBroker& operator=(const SecondBroker&) = delete;

  // Runs `scripts/kafka.sh <action>` (start, stop) and waits for it; "" or what failed.
  [[nodiscard]] std::string run(const std::string& action);
  [[nodiscard]] std::string bootstrap() const { return host_ + ":" + port_; }
  [[nodiscard]] const std::string& home() const { return home_; }

 private:
  std::string name_;
  std::string home_;
  std::string host_;
  std::string port_;
  std::string controller_port_;
  bool secure_;
};

}  // namespace auditor::test
