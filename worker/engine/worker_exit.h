// How Worker::run() ended, and what the process does about it (engine/restart_policy.h).
#pragma once

#include <string>

namespace auditor {

struct WorkerExit {
  enum class Kind {
    kStopped,      // asked to stop; everything committed: exit 0
    kClientFatal,  // a Kafka client is unusable (a fenced static member or producer, an
                   // invalid transactional state after an outage): new clients may go on
    kFatal,        // anything else (a store, the configuration): exit 1
  };
  Kind kind = Kind::kStopped;
  std::string reason;
};

}  // namespace auditor
