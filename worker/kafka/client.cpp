#include "worker/kafka/client.h"

#include <array>
#include <stdexcept>

#include "worker/common/log.h"
#include "worker/kafka/callback_invoker.h"

namespace auditor::kafka {
namespace {

void on_log(const rd_kafka_t* /*rk*/, int level, const char* facility, const char* message) {
  invoke_callback("log", [&] {
    // syslog levels: 0-3 error, 4 warning, 5-6 info, 7 debug.
    auto logger = log::get("kafka");
    if (level <= 3) {
      logger->error("{}: {}", facility, message);
    } else if (level == 4) {
      logger->warn("{}: {}", facility, message);
    } else if (level <= 6) {
      logger->info("{}: {}", facility, message);
    } else {
      logger->debug("{}: {}", facility, message);
    }
  });
}

void on_error(rd_kafka_t* rk, int err, const char* reason, void* /*opaque*/) {
  invoke_callback("error", [&] {
    const auto code = static_cast<rd_kafka_resp_err_t>(err);
    if (code == RD_KAFKA_RESP_ERR__FATAL) {
      std::array<char, 512> buf{};
      const auto fatal = rd_kafka_fatal_error(rk, buf.data(), buf.size());
      // The owner decides whether this ends the process (the worker may recreate its
      // clients, engine/restart_policy.h) and logs that at critical.
      log::get("kafka")->error("fatal client error {}: {}", rd_kafka_err2name(fatal), buf.data());
      return;
    }
    // Transport errors are retried by librdkafka; they matter once they persist, which the
    // worker's health check tracks. Log them at warn to keep a broker outage visible.
    log::get("kafka")->warn("{}: {}", rd_kafka_err2name(code), reason);
  });
}

void set(rd_kafka_conf_t* conf, const std::string& key, const std::string& value) {
  std::array<char, 512> err{};
  if (rd_kafka_conf_set(conf, key.c_str(), value.c_str(), err.data(), err.size()) !=
      RD_KAFKA_CONF_OK) {
    throw ConfigError("--kafka " + key + ": " + err.data());
  }
}

}  // namespace

ConfPtr make_conf(const KafkaSettings& settings, const Properties& defaults) {
  ConfPtr conf(rd_kafka_conf_new());
  set(conf.get(), "bootstrap.servers", settings.bootstrap_servers);
  for (const auto& [key, value] : defaults) set(conf.get(), key, value);
  for (const auto& [key, value] : settings.properties) set(conf.get(), key, value);
  rd_kafka_conf_set_log_cb(conf.get(), on_log);
  rd_kafka_conf_set_error_cb(conf.get(), on_error);
  return conf;
}

void add_prefetch_properties(Properties& properties, std::uint64_t kbytes) {
  properties.emplace_back("queued.min.messages", "10000000");
  properties.emplace_back("queued.max.messages.kbytes", std::to_string(kbytes));
}

HandlePtr make_client(rd_kafka_type_t type, ConfPtr conf) {
  std::array<char, 512> err{};
  HandlePtr handle(rd_kafka_new(type, conf.get(), err.data(), err.size()));
  if (!handle) {
    throw std::runtime_error(std::string("cannot create Kafka client: ") + err.data());
  }
  // rd_kafka_new owns the conf once it succeeded.
  (void)conf.release();
  return handle;
}

std::string error_text(rd_kafka_resp_err_t err) {
  return rd_kafka_err2str(err);
}

}  // namespace auditor::kafka
