#include "worker/common/application_options.h"

namespace auditor {

namespace po = cli::po;

void add_application_options(po::options_description& options) {
  options.add_options()("application-id", po::value<std::string>()->default_value("auditor"),
                        "consumer group and prefix of internal topics")(
      "input-topic", po::value<std::string>()->default_value("audit_events"), "ticks in")(
      "state-dir", po::value<std::string>()->default_value("./auditor-state"),
      "where the task stores live (under <state-dir>/<application-id>)");
}

TopicNames application_topics(const po::variables_map& v, const cli::Origins& origins) {
  const auto label = [&](const char* name) { return cli::option_label(origins, name); };
  TopicNames t;
  t.application_id = v["application-id"].as<std::string>();
  t.input = v["input-topic"].as<std::string>();
  validate_topic_name(label("application-id"), t.application_id);
  // The internal topics are longer than the id: the id must leave room for them.
  validate_topic_name(label("application-id"), t.repartition());
  validate_topic_name(label("application-id"), t.changelog());
  validate_topic_name(label("input-topic"), t.input);
  return t;
}

}  // namespace auditor
