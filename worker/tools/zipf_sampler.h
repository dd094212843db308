// Zipf-skewed key choice for the load generators (`auditor generate`, the benchmark's
// preload), so both draw the same keys from the same seed.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <random>
#include <vector>

namespace auditor {

// Samples key indices in [0, n) with P(k) proportional to 1/(k+1)^skew (skew 0: uniform).
// Requires n > 0. Not thread-safe (the caller's generator is advanced).
class ZipfSampler {
 public:
  ZipfSampler(std::size_t n, double skew) : cdf_(n) {
    double sum = 0;
    for (std::size_t k = 0; k < n; ++k) {
      sum += 1.0 / std::pow(static_cast<double>(k + 1), skew);
      cdf_[k] = sum;
    }
    for (auto& c : cdf_) c /= sum;
  }

  std::size_t operator()(std::mt19937_64& rng) const {
    const double u = std::uniform_real_distribution<double>(0, 1)(rng);
    const auto it = std::lower_bound(cdf_.begin(), cdf_.end(), u);
    // Rounding may leave the last cumulative value a hair below u.
    return std::min(static_cast<std::size_t>(it - cdf_.begin()), cdf_.size() - 1);
  }

 private:
  std::vector<double> cdf_;
};

}  // namespace auditor
