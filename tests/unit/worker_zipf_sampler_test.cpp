#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "worker/tools/zipf_sampler.h"

namespace auditor {
namespace {

std::vector<int> histogram(std::size_t n, double skew, int draws) {
  const ZipfSampler sampler(n, skew);
  std::mt19937_64 rng(7);
  std::vector<int> counts(n);
  for (int i = 0; i < draws; ++i) ++counts.at(sampler(rng));  // at(): index must be < n
  return counts;
}

TEST(ZipfSampler, SkewOneFollowsOneOverRank) {
  const auto counts = histogram(10, 1.0, 100'000);
  // P(0) / P(1) = 2 and P(0) / P(9) = 10, within sampling noise.
  EXPECT_NEAR(static_cast<double>(counts[0]) / counts[1], 2.0, 0.1);
  EXPECT_NEAR(static_cast<double>(counts[0]) / counts[9], 10.0, 1.0);
}

TEST(ZipfSampler, SkewZeroIsUniform) {
  for (const int c : histogram(4, 0.0, 40'000)) EXPECT_NEAR(c, 10'000, 500);
}

TEST(ZipfSampler, SameSeedSameKeys) {
  const ZipfSampler sampler(1000, 1.2);
  std::mt19937_64 a(3);
  std::mt19937_64 b(3);
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(sampler(a), sampler(b));
}

}  // namespace
}  // namespace auditor
