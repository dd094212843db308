// One error type for everything librdkafka reports, classified the way the caller has to
// act on it (as modern-cpp-kafka's Error does):
//   fatal           the client is unusable (fenced, broken) or lacks an ACL: stop it and
//                   exit non-zero
//   abort_required  the transaction must be aborted; what it held is re-done
//   retriable       the same call may succeed later (the outcome may not be known yet)
// A default-constructed Error is "no error". Cheap to copy: it owns no librdkafka handle.
#pragma once

#include <librdkafka/rdkafka.h>

#include <string>
#include <utility>

#include "worker/kafka/handles.h"

namespace auditor::kafka {

class Error {
 public:
  Error() = default;

  // From a transactional/admin call's error object; takes and frees it. `context` names
  // the call ("commit transaction").
  static Error from(ErrorPtr error, std::string context);
  // From a plain error code; never fatal unless the code is RD_KAFKA_RESP_ERR__FATAL.
  static Error from(rd_kafka_resp_err_t code, std::string context);
  // An error of ours (e.g. a deadline): abort-required, not fatal, not retriable.
  static Error failed(std::string message);

  [[nodiscard]] explicit operator bool() const { return failed_; }
  [[nodiscard]] bool fatal() const { return fatal_; }
  [[nodiscard]] bool retriable() const { return retriable_; }
  [[nodiscard]] bool abort_required() const { return abort_required_; }
  [[nodiscard]] rd_kafka_resp_err_t code() const { return code_; }
  // "<context>: <librdkafka's reason>"; empty without an error.
  [[nodiscard]] const std::string& message() const { return message_; }

 private:
  bool failed_ = false;
  bool fatal_ = false;
  bool retriable_ = false;
  bool abort_required_ = false;
  rd_kafka_resp_err_t code_ = RD_KAFKA_RESP_ERR_NO_ERROR;
  std::string message_;
};

}  // namespace auditor::kafka
