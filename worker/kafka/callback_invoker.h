// The one way librdkafka callbacks enter our code: every static trampoline runs its body
// through invoke_callback, so no exception ever unwinds through librdkafka's C frames
// (undefined behaviour). Modelled on cppkafka's callback_invoker.
#pragma once

#include <exception>
#include <utility>

#include "worker/common/log.h"

namespace auditor::kafka {

template <typename Body>
void invoke_callback(const char* callback_name, Body&& body) noexcept {
  try {
    std::forward<Body>(body)();
  } catch (const std::exception& e) {
    log::get("kafka")->error("{} callback threw: {}", callback_name, e.what());
  } catch (...) {
    log::get("kafka")->error("{} callback threw a non-standard exception", callback_name);
  }
}

}  // namespace auditor::kafka
