// Bearer-token auth of the tick API and dashboard (worker/http/bearer_auth.h): the token
// file, the header's form, and the comparison.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "worker/http/bearer_auth.h"

namespace auditor::web {
namespace {

namespace fs = std::filesystem;

class TokenFile : public testing::Test {
 protected:
  void SetUp() override {
    dir_ =
        fs::temp_directory_path() / ("auditor-token-test-" + std::to_string(getpid()) + "-" +
                                     testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path write(const std::string& content) {
    const auto path = dir_ / "token";
    std::ofstream(path, std::ios::binary) << content;
    return path;
  }

  // The message of read_token_file's error, "" when it did not throw.
  static std::string error_of(const fs::path& path) {
    try {
      (void)read_token_file(path);
    } catch (const std::runtime_error& e) {
      return e.what();
    }
    return "";
  }

  fs::path dir_;
};

TEST_F(TokenFile, TrailingLineBreaksAreTrimmed) {
  EXPECT_EQ(read_token_file(write("s3cr3t-T0ken")), "s3cr3t-T0ken");
  EXPECT_EQ(read_token_file(write("s3cr3t-T0ken\n")), "s3cr3t-T0ken");
  EXPECT_EQ(read_token_file(write("s3cr3t-T0ken\r\n")), "s3cr3t-T0ken");
  EXPECT_EQ(read_token_file(write("s3cr3t-T0ken\n\n")), "s3cr3t-T0ken");
  const std::string base64 = "dGhpcyBpcyBhIHRva2Vu+/==";
  EXPECT_EQ(read_token_file(write(base64 + "\n")), base64);
}

TEST_F(TokenFile, EmptyUnreadableOrMalformedFilesAreErrorsThatNeverQuoteTheContent) {
  EXPECT_NE(error_of(write("")).find("is empty"), std::string::npos);
  EXPECT_NE(error_of(write("\n")).find("is empty"), std::string::npos);
  EXPECT_NE(error_of(dir_ / "missing").find("cannot read"), std::string::npos);
  EXPECT_NE(error_of(dir_).find("is a directory"), std::string::npos);
  const std::vector<std::string> malformed = {"two words", "tab\there", "line\nbreak",
                                              std::string("nul\0x", 5), "caf\xc3\xa9"};
  for (const auto& bad : malformed) {
    const std::string message = error_of(write(bad));
    EXPECT_NE(message.find("not visible ASCII"), std::string::npos) << message;
    EXPECT_EQ(message.find(bad), std::string::npos) << message;
  }
  const std::string huge(5000, 'a');
  const std::string message = error_of(write(huge));
  EXPECT_NE(message.find("holds more than 4096 bytes"), std::string::npos) << message;
  EXPECT_EQ(message.find("aaaa"), std::string::npos);
  // Exactly at the limit is a token.
  EXPECT_EQ(read_token_file(write(std::string(4096, 'b') + "\n")).size(), 4096U);
}

TEST_F(TokenFile, PermissionsReadableByOthersAreNoticed) {
  const auto path = write("t");
  ASSERT_EQ(chmod(path.c_str(), 0600), 0);
  EXPECT_FALSE(readable_by_others(path));
  ASSERT_EQ(chmod(path.c_str(), 0644), 0);
  EXPECT_TRUE(readable_by_others(path));
}

TEST(BearerHeader, OnlyTheBearerFormCarriesAToken) {
  EXPECT_EQ(bearer_token_of("Bearer abc"), "abc");
  EXPECT_EQ(bearer_token_of("bearer abc"), "abc");
  EXPECT_EQ(bearer_token_of("BEARER   abc  "), "abc");
  EXPECT_EQ(bearer_token_of("Bearer"), "");
  EXPECT_EQ(bearer_token_of("Bearer "), "");
  EXPECT_EQ(bearer_token_of("Bearer    "), "");
  EXPECT_EQ(bearer_token_of("Bearerabc"), "");
  EXPECT_EQ(bearer_token_of("Basic YWxhZGRpbjpvcGVuc2VzYW1l"), "");
  EXPECT_EQ(bearer_token_of("Bearer a b"), "");
  EXPECT_EQ(bearer_token_of(""), "");
}

TEST(ConstantTimeEqual, ComparesWholeStrings) {
  EXPECT_TRUE(constant_time_equal("token", "token"));
  EXPECT_TRUE(constant_time_equal("", ""));
  EXPECT_FALSE(constant_time_equal("tokem", "token"));
  EXPECT_FALSE(constant_time_equal("Token", "token"));
  EXPECT_FALSE(constant_time_equal("tok", "token"));
  EXPECT_FALSE(constant_time_equal("token-and-more", "token"));
  EXPECT_FALSE(constant_time_equal("", "token"));
  EXPECT_FALSE(constant_time_equal("token", ""));
  // A prefix followed by the NUL bytes the loop pads with is still a different string.
  EXPECT_FALSE(constant_time_equal(std::string_view("tok\0\0", 5), "tok"));
  EXPECT_FALSE(constant_time_equal("tok", std::string_view("tok\0\0", 5)));
}

TEST(BearerAuth, AllowsOnlyTheToken) {
  const BearerAuth auth("s3cr3t");
  EXPECT_TRUE(auth.allows("Bearer s3cr3t"));
  EXPECT_TRUE(auth.allows("bearer s3cr3t"));
  EXPECT_FALSE(auth.allows(""));
  EXPECT_FALSE(auth.allows("s3cr3t"));
  EXPECT_FALSE(auth.allows("Bearer s3cr3"));
  EXPECT_FALSE(auth.allows("Bearer s3cr3t2"));
  EXPECT_FALSE(auth.allows("Basic s3cr3t"));
  EXPECT_FALSE(auth.allows("Bearer "));
}

}  // namespace
}  // namespace auditor::web
