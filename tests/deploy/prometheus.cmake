# deploy/prometheus: the scrape configs and alerting rules, checked with Debian's promtool
# and run by a real Prometheus (package prometheus, scripts/install-deps.sh). Debian's
# build has no Kubernetes discovery, so kubernetes.yml is checked and run with its pod
# discovery swapped for a file (prometheus_kubernetes_as_file_sd.py).
#
# Label deploy (no broker, a few seconds):
#   prometheus_check_config             promtool check config on prometheus.yml (compose)
#   prometheus_check_kubernetes_config  ... on kubernetes.yml, discovery swapped
#   prometheus_check_rules              promtool check rules on alerts.yml
#   prometheus_test_rules               promtool test rules alerts_test.yml
#   prometheus_rules_coverage           every alert has severity, summary, description,
#                                       for:, and a test where it fires and one where not
# Label integration (the broker; about a minute):
#   PrometheusLive.*                    prometheus_live_test.cpp: promtool check metrics on
#                                       the three services, the tick rate through PromQL,
#                                       the rules loaded, the alerts' metric names scraped
set(prometheus_dir ${PROJECT_SOURCE_DIR}/deploy/prometheus)
find_program(AUDITOR_PROMTOOL promtool)
find_program(AUDITOR_PROMETHEUS prometheus)
# Debian's python3, which python3-yaml is for (a python3 earlier in PATH may lack yaml).
find_program(AUDITOR_PYTHON3 python3 PATHS /usr/bin NO_DEFAULT_PATH)
set(k8s_as_file_sd ${CMAKE_CURRENT_SOURCE_DIR}/prometheus_kubernetes_as_file_sd.py)
set(k8s_checked ${CMAKE_CURRENT_BINARY_DIR}/prometheus-kubernetes/prometheus.yml)

add_test(NAME prometheus_check_config
         COMMAND promtool check config ${prometheus_dir}/prometheus.yml)
add_test(NAME prometheus_check_kubernetes_config
         COMMAND sh -c "${AUDITOR_PYTHON3} \"$0\" \"$1\" \"$2\" && promtool check config \"$2\""
                 ${k8s_as_file_sd} ${prometheus_dir}/kubernetes.yml ${k8s_checked})
add_test(NAME prometheus_check_rules
         COMMAND promtool check rules ${prometheus_dir}/alerts.yml)
add_test(NAME prometheus_test_rules
         COMMAND promtool test rules alerts_test.yml
         WORKING_DIRECTORY ${prometheus_dir})
add_test(NAME prometheus_rules_coverage
         COMMAND ${AUDITOR_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/prometheus_rules_coverage.py
                 ${prometheus_dir}/alerts.yml ${prometheus_dir}/alerts_test.yml)
set_tests_properties(prometheus_check_config prometheus_check_kubernetes_config
                     prometheus_check_rules prometheus_test_rules prometheus_rules_coverage
                     PROPERTIES LABELS deploy TIMEOUT 60)

add_executable(prometheus_live_test ${CMAKE_CURRENT_SOURCE_DIR}/prometheus_live_test.cpp)
target_link_libraries(prometheus_live_test PRIVATE auditor_test_harness GTest::gtest_main
                                                   auditor_warnings)
target_compile_definitions(prometheus_live_test PRIVATE
  AUDITOR_PROMETHEUS_DIR="${prometheus_dir}"
  AUDITOR_PROMTOOL="${AUDITOR_PROMTOOL}"
  AUDITOR_PROMETHEUS="${AUDITOR_PROMETHEUS}"
  AUDITOR_PYTHON3="${AUDITOR_PYTHON3}"
  AUDITOR_K8S_AS_FILE_SD="${k8s_as_file_sd}")
auditor_add_broker_tests(prometheus_live_test LABEL integration TIMEOUT 240)
