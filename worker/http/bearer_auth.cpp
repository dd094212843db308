#include "worker/http/bearer_auth.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>

namespace auditor::web {
namespace {

// Far beyond any sane token; a larger file is most likely the wrong file.
constexpr std::size_t kMaxToken = 4096;

bool visible_ascii(char c) {
  return c >= '!' && c <= '~';
}

}  // namespace

std::string read_token_file(const std::filesystem::path& path) {
  const std::string name = "'" + path.string() + "'";
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) throw std::runtime_error(name + " is a directory");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + name + ": " + std::strerror(errno));
  // Room for a token at the limit, a "\r\n" and one byte more, to tell "too large" apart.
  std::string token(kMaxToken + 3, '\0');
  in.read(token.data(), static_cast<std::streamsize>(token.size()));
  if (in.bad()) throw std::runtime_error("cannot read " + name);
  token.resize(static_cast<std::size_t>(in.gcount()));
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r')) token.pop_back();
  if (token.size() > kMaxToken) {
    throw std::runtime_error(name + " holds more than " + std::to_string(kMaxToken) +
                             " bytes: not a token file");
  }
  if (token.empty()) throw std::runtime_error(name + " is empty: it must hold the token");
  for (const char c : token) {
    if (!visible_ascii(c)) {
      throw std::runtime_error(name +
                               " holds a character that is not visible ASCII (space, line "
                               "break or control character inside the token?)");
    }
  }
  return token;
}

bool readable_by_others(const std::filesystem::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return false;
  return (st.st_mode & (S_IRGRP | S_IROTH)) != 0;
}

bool constant_time_equal(std::string_view given, std::string_view expected) {
  // Every byte of `expected` is looked at, whatever `given` holds; volatile keeps the
  // compiler from ending the loop early once a difference is known.
  volatile unsigned char difference = given.size() == expected.size() ? 0 : 1;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const auto g = static_cast<unsigned char>(i < given.size() ? given[i] : 0);
    difference = difference | (g ^ static_cast<unsigned char>(expected[i]));
  }
  return difference == 0;
}

std::string_view bearer_token_of(std::string_view authorization) {
  constexpr std::string_view kScheme = "bearer";
  if (authorization.size() <= kScheme.size()) return {};
  for (std::size_t i = 0; i < kScheme.size(); ++i) {
    const char c = authorization[i];
    const char lower = c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
    if (lower != kScheme[i]) return {};
  }
  std::string_view rest = authorization.substr(kScheme.size());
  if (rest.front() != ' ') return {};
  rest.remove_prefix(std::min(rest.find_first_not_of(' '), rest.size()));
  rest.remove_suffix(rest.size() - (rest.find_last_not_of(' ') + 1));
  if (rest.find(' ') != std::string_view::npos) return {};
  return rest;
}

bool BearerAuth::allows(std::string_view authorization) const {
  const auto token = bearer_token_of(authorization);
  // An empty token is never valid (read_token_file refuses one), but is still compared, so
  // that a malformed header takes the same time as a wrong token.
  return constant_time_equal(token, token_) && !token.empty();
}

}  // namespace auditor::web
