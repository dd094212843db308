# Turns the dashboard page into a C++ source (a raw string literal), so the binary serves
# it without any file next to it. Run at build time:
#   cmake -DINPUT=index.html -DOUTPUT=dashboard_page.cpp -P embed.cmake
file(READ "${INPUT}" content)
set(delimiter "AUDITOR_PAGE")
string(FIND "${content}" ")${delimiter}\"" clash)
if(NOT clash EQUAL -1)
  message(FATAL_ERROR "${INPUT} contains the raw string delimiter )${delimiter}\"")
endif()
file(WRITE "${OUTPUT}.tmp"
  "// Generated from worker/dashboard/index.html by worker/dashboard/embed.cmake.\n"
  "#include \"worker/dashboard/page.h\"\n\n"
  "namespace auditor::dashboard {\n"
  "const std::string_view kPage = R\"${delimiter}(${content})${delimiter}\";\n"
  "}  // namespace auditor::dashboard\n")
# Only touch the output when it changed, so an unrelated rebuild recompiles nothing.
file(COPY_FILE "${OUTPUT}.tmp" "${OUTPUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUTPUT}.tmp")
