# The Helm chart (deploy/helm/auditor), checked with helm and a strict decode of every
# rendered object into the Kubernetes API types (deploy/helm/validate) against the options
# the built `auditor` lists. tests/deploy/helm_test.sh does the work; helm and the validator
# come from scripts/tools/helm.sh (cached under ~/.cache/auditor-tools; the first build of
# helm takes minutes, hence the fixture's long timeout).
set(helm_test bash ${CMAKE_CURRENT_SOURCE_DIR}/helm_test.sh)
set(helm_out ${CMAKE_CURRENT_BINARY_DIR}/helm)

add_test(NAME helm_tools COMMAND ${helm_test} tools)
set_tests_properties(helm_tools PROPERTIES FIXTURES_SETUP helm_tools LABELS deploy TIMEOUT 1200)

add_test(NAME helm_app_version COMMAND ${helm_test} version ${PROJECT_VERSION})
set_tests_properties(helm_app_version PROPERTIES LABELS deploy TIMEOUT 30)

add_test(NAME helm_lint COMMAND ${helm_test} lint)
set_tests_properties(helm_lint PROPERTIES FIXTURES_REQUIRED helm_tools LABELS deploy TIMEOUT 120)

# One value set per file in deploy/helm/auditor/ci/.
foreach(set default secured secured-file scaled minimal)
  add_test(NAME helm_template_${set}
           COMMAND ${helm_test} template ${set} $<TARGET_FILE:auditor> ${helm_out})
  set_tests_properties(helm_template_${set} PROPERTIES FIXTURES_REQUIRED helm_tools
                                                       LABELS deploy TIMEOUT 120)
endforeach()

# The validator must reject broken renders: unknown, duplicate and mistyped fields, an
# unknown kind, misspelled options and variables, probes and Services on missing ports, ...
add_test(NAME helm_validator_rejects
         COMMAND ${helm_test} rejects $<TARGET_FILE:auditor> ${helm_out}/rejects)
set_tests_properties(helm_validator_rejects PROPERTIES FIXTURES_REQUIRED helm_tools
                                                       LABELS deploy TIMEOUT 180)

# The validator's own logic (document splitting, strict decode, auditor's naming rules).
add_test(NAME helm_validator_unit COMMAND ${helm_test} unit)
set_tests_properties(helm_validator_unit PROPERTIES FIXTURES_REQUIRED helm_tools
                                                    LABELS deploy TIMEOUT 300)
