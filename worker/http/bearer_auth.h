// Bearer-token authentication of the tick API and the dashboard (`--auth-token-file`):
// reading the token file and checking `Authorization` headers against it. Pure (no
// sockets, no cpp-httplib), so that every rule here has a unit test.
//
// The token is a secret: it is only ever read from a file (never an option value, so it is
// not in `ps`, the environment or the effective-configuration log), and no message here
// or in the callers quotes it.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <utility>

namespace auditor::web {

// The token of a token file: its content with trailing line breaks ("\n", "\r\n") removed.
// Throws std::runtime_error naming the file (never the content) when the file cannot be
// read, is empty after trimming, holds more than 4 KiB, or holds anything but visible ASCII
// (0x21-0x7e: what an Authorization header can carry without quoting).
[[nodiscard]] std::string read_token_file(const std::filesystem::path& path);

// True when `path`'s permissions let users other than its owner read it (a warning at
// start-up, not an error: containers often mount secrets 0644).
[[nodiscard]] bool readable_by_others(const std::filesystem::path& path);

// Compares two strings in time that depends only on `expected.size()`, never on where
// they differ (so the time a wrong guess takes tells nothing about the token).
[[nodiscard]] bool constant_time_equal(std::string_view given, std::string_view expected);

// The token of an `Authorization` header value "Bearer <token>" (scheme case-insensitive,
// one or more spaces, trailing spaces ignored); empty when the value has another form.
[[nodiscard]] std::string_view bearer_token_of(std::string_view authorization);

// The expected token, and the check of a request's Authorization header against it.
// Immutable after construction: safe to share between request threads.
class BearerAuth {
 public:
  explicit BearerAuth(std::string token) : token_(std::move(token)) {}

  // `authorization`: the header's value, empty when the request has none.
  [[nodiscard]] bool allows(std::string_view authorization) const;

 private:
  std::string token_;
};

}  // namespace auditor::web
