#include "worker/kafka/error.h"

#include "worker/kafka/access.h"

namespace auditor::kafka {

Error Error::from(ErrorPtr error, std::string context) {
  Error e;
  if (!error) return e;
  e.failed_ = true;
  e.code_ = rd_kafka_error_code(error.get());
  // A missing ACL does not appear by retrying: stop, as for a fenced producer.
  e.fatal_ = rd_kafka_error_is_fatal(error.get()) != 0 || is_authorization_error(e.code_);
  e.retriable_ = rd_kafka_error_is_retriable(error.get()) != 0;
  // Anything that is not fatal leaves an open transaction unusable for this commit.
  e.abort_required_ = !e.fatal_;
  e.message_ = std::move(context) + ": " + rd_kafka_error_string(error.get());
  return e;
}

Error Error::from(rd_kafka_resp_err_t code, std::string context) {
  Error e;
  if (code == RD_KAFKA_RESP_ERR_NO_ERROR) return e;
  e.failed_ = true;
  e.fatal_ = code == RD_KAFKA_RESP_ERR__FATAL || is_authorization_error(code);
  e.abort_required_ = !e.fatal_;
  e.code_ = code;
  e.message_ = std::move(context) + ": " + rd_kafka_err2str(code);
  return e;
}

Error Error::failed(std::string message) {
  Error e;
  e.failed_ = true;
  e.abort_required_ = true;
  e.code_ = RD_KAFKA_RESP_ERR__FAIL;
  e.message_ = std::move(message);
  return e;
}

}  // namespace auditor::kafka
