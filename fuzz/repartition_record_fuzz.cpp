// Fuzzes the repartition record decoder (topology/repartition_record.h): stage 2 reads
// these bytes from a topic anyone with write access could have written to.
//
// Input layout: u16 big-endian key length, the key, then the value (a shorter input
// gives a key of what there is and an empty value). The window set is 1m,5m,1h,1d.
//
// Properties of a decoded delta: what the header documents (non-empty names, event time
// in bounds, count >= ticks >= 1, late bits only for known windows), the name views
// inside the key, the key re-encoding to the same bytes, and the record surviving
// encode -> decode. A watermark re-encodes to the same value bytes. partition_for stays
// within the partition count.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz/check.h"
#include "topology/repartition_record.h"

namespace {

using auditor::RepartitionMessage;
using auditor::RepartitionRecord;
using Kind = RepartitionMessage::Kind;

const auditor::WindowSet& windows() {
  static const auditor::WindowSet w = auditor::WindowSet::parse("1m,5m,1h,1d");
  return w;
}

bool same(const RepartitionRecord& a, const RepartitionRecord& b) {
  return a.process_name == b.process_name && a.process_activity == b.process_activity &&
         a.event_time == b.event_time && a.count == b.count && a.ticks == b.ticks &&
         a.late_mask == b.late_mask;
}

bool within(std::string_view part, std::string_view whole) {
  return part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size();
}

void check_delta(std::string_view key, const RepartitionRecord& r) {
  FUZZ_CHECK(!r.process_name.empty() && !r.process_activity.empty());
  FUZZ_CHECK(within(r.process_name, key) && within(r.process_activity, key));
  FUZZ_CHECK(auditor::kMinEventTime <= r.event_time && r.event_time <= auditor::kMaxEventTime);
  FUZZ_CHECK(r.ticks >= 1 && r.count >= r.ticks);
  FUZZ_CHECK((r.late_mask >> windows().size()) == 0);

  const std::string key_again = auditor::encode_repartition_key(r.process_name, r.process_activity);
  FUZZ_CHECK(key_again == key);
  const std::string value_again =
      auditor::encode_repartition_value(r.event_time, r.count, r.ticks, r.late_mask, windows());
  const RepartitionMessage again =
      auditor::decode_repartition_message(key_again, value_again, windows());
  FUZZ_CHECK(again.kind == Kind::kDelta);
  FUZZ_CHECK(same(again.delta, r));
}

void check_watermark(std::string_view key, std::string_view value, const RepartitionMessage& m) {
  FUZZ_CHECK(key.empty());
  FUZZ_CHECK(m.input.value >= 0);
  if (m.watermark.time) {
    FUZZ_CHECK(auditor::kMinEventTime <= *m.watermark.time &&
               *m.watermark.time <= auditor::kMaxEventTime);
  }
  FUZZ_CHECK(auditor::encode_watermark_value(m.input, m.watermark) == value);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  std::size_t key_size = 0;
  if (input.size() >= 2) {
    key_size = (std::size_t{data[0]} << 8) | data[1];
  }
  const std::string_view rest = input.substr(std::min<std::size_t>(2, input.size()));
  const std::string_view key = rest.substr(0, key_size);
  const std::string_view value = rest.substr(key.size());

  const RepartitionMessage m = auditor::decode_repartition_message(key, value, windows());
  switch (m.kind) {
    case Kind::kDelta:
      check_delta(key, m.delta);
      break;
    case Kind::kWatermark:
      check_watermark(key, value, m);
      break;
    case Kind::kMalformed:
    case Kind::kEarlierVersion:
      break;
  }

  const std::int32_t partitions = 1 + static_cast<std::int32_t>(size % 97);
  const auditor::PartitionId p = auditor::partition_for(key, partitions);
  FUZZ_CHECK(p.value >= 0 && p.value < partitions);
  return 0;
}
