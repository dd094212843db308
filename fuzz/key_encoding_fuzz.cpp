// Fuzzes the task store's byte layout (state/key_encoding.h): window keys, counts and
// checkpoints read back from RocksDB after a crash, a restore or a damaged disk.
//
// The input is decoded as each of the three; whatever decodes must re-encode to exactly
// the same bytes (one encoding per value, so no two stored keys mean the same window) and
// meet the documented bounds. Then the same bytes, read as fields, give two window keys:
// each survives encode -> decode, the encodings compare as the keys do (the header's
// ordering promise that range scans rely on), and each starts with its window's scan bound.
// (Every 'w' key of the store is such an encoding, so decode -> encode and encode ->
// decode together cover both directions.)
#include <fuzzer/FuzzedDataProvider.h>

#include <compare>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

#include "fuzz/check.h"
#include "state/key_encoding.h"

namespace {

using auditor::WindowKey;
namespace state = auditor::state;

bool in_bounds(auditor::EventTime t) {
  return auditor::kMinEventTime <= t && t <= auditor::kMaxEventTime;
}

void check_decoders(std::string_view bytes) {
  if (const auto key = state::decode_window_key(bytes)) {
    FUZZ_CHECK(key->size.value > 0);
    FUZZ_CHECK(state::encode_window_key(*key) == bytes);
  }
  if (const auto counts = state::decode_counts(bytes)) {
    FUZZ_CHECK(counts->count >= 0 && counts->ticks >= 0);
    FUZZ_CHECK(state::encode_counts(*counts) == bytes);
  }
  if (const auto checkpoint = state::decode_checkpoint(bytes)) {
    const auditor::TaskProgress& progress = checkpoint->progress;
    if (progress.watermark) FUZZ_CHECK(in_bounds(*progress.watermark));
    for (const auto& [partition, wm] : progress.watermarks) {
      FUZZ_CHECK(partition >= 0);
      if (wm.time) FUZZ_CHECK(in_bounds(*wm.time));
    }
    FUZZ_CHECK(!state::is_earlier_checkpoint_version(bytes));
    FUZZ_CHECK(state::encode_checkpoint(*checkpoint) == bytes);
  }
}

WindowKey window_key(FuzzedDataProvider& in) {
  WindowKey key;
  key.size = auditor::DurationMs{
      in.ConsumeIntegralInRange<std::int64_t>(1, std::numeric_limits<std::int64_t>::max())};
  key.start = auditor::EventTime{in.ConsumeIntegral<std::int64_t>()};
  key.process_name = in.ConsumeRandomLengthString(300);
  key.process_activity = in.ConsumeRandomLengthString(300);
  return key;
}

void check_key(const WindowKey& key) {
  const std::string bytes = state::encode_window_key(key);
  FUZZ_CHECK(state::decode_window_key(bytes) == key);
  FUZZ_CHECK(bytes.starts_with(state::window_range_bound(key.size, key.start)));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  check_decoders(std::string_view(reinterpret_cast<const char*>(data), size));

  FuzzedDataProvider in(data, size);
  const WindowKey a = window_key(in);
  WindowKey b = window_key(in);
  // Keys of one window differ only in their names: the order that matters most for scans.
  if (in.ConsumeBool()) {
    b.size = a.size;
    b.start = a.start;
  }
  check_key(a);
  check_key(b);
  // std::string compares bytes as unsigned char, as RocksDB's bytewise comparator does.
  FUZZ_CHECK((state::encode_window_key(a) <=> state::encode_window_key(b)) == (a <=> b));
  return 0;
}
