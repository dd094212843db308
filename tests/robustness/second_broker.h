// A broker of the test's own: scripts/kafka.sh with another home and other ports, so that
// stopping it (an outage) or moving it to other addresses (a partition) does not disturb
// the shared broker every other test uses. Its first start may download the broker jars.
#pragma once

#include <string>

namespace auditor::rb {

class SecondBroker {
 public:
  // `name` picks the home (<work>/<name>, or $AUDITOR_<NAME>_HOME) and ports (`port` and
  // `port` + 1 for the controller, or $AUDITOR_<NAME>_PORT). `host`: the address it
  // listens on and advertises (one the test made for a partition; 127.0.0.1 otherwise).
  explicit SecondBroker(std::string name, int port, std::string host = "127.0.0.1");
  ~SecondBroker();  // stops it
  SecondBroker(const SecondBroker&) = delete;
  SecondBroker& operator=(const SecondBroker&) = delete;

  // Runs `scripts/kafka.sh <action>` (start, stop) and waits for it; "" or what failed.
  [[nodiscard]] std::string run(const std::string& action);
  [[nodiscard]] std::string bootstrap() const { return host_ + ":" + port_; }

 private:
  std::string name_;
  std::string home_;
  std::string host_;
  std::string port_;
  std::string controller_port_;
};

}  // namespace auditor::rb
