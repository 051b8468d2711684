#include "core/memory_plan.h"

#include <algorithm>
#include <cstdio>

#include "core/error.h"
#include "core/format.h"

namespace smartturn {
namespace {

/** "2 lanes x 2.10 GiB (bucket 64's)" and the slots' share: what the plan is made of. */
std::string Parts(const MemoryPlan& plan) {
  std::string s;
  if (plan.lane_bytes > 0) {
    const auto largest = std::max_element(plan.scratch.begin(), plan.scratch.end()) - plan.scratch.begin();
    s = "activations " + std::to_string(plan.lanes) + " lanes x " + ByteString(plan.lane_bytes) + " (bucket " +
        std::to_string(plan.buckets[static_cast<std::size_t>(largest)]) + "'s, shared by the lane's slots of every bucket)";
  }
  if (plan.slot_bytes > 0 || s.empty()) s += (s.empty() ? "" : " + ") + std::string("slot inputs and outputs ") + ByteString(plan.slot_bytes);
  return s;
}

}  // namespace

std::string ByteString(std::size_t bytes) {
  char text[32];
  const double mib = static_cast<double>(bytes) / (1 << 20);
  if (mib >= 1024) {
    std::snprintf(text, sizeof text, "%.2f GiB", mib / 1024);
  } else {
    std::snprintf(text, sizeof text, "%.1f MiB", mib);
  }
  return text;
}

std::string MemoryPlan::Describe() const {
  if (!device) return "host memory only: no device buffers";
  return "GPU " + std::to_string(device->device) + " memory for buckets " + JoinInts(buckets) + " x " + std::to_string(lanes) +
         " slots: " + ByteString(needed()) + " = " + Parts(*this) + "; " + ByteString(device->free_bytes) + " of " +
         ByteString(device->total_bytes) + " was free";
}

MemoryPlan PlanMemory(const ExecutorFactory& factory, const std::vector<int>& buckets, int slots_per_bucket) {
  MemoryPlan plan;
  plan.buckets = buckets;
  plan.lanes = slots_per_bucket;
  for (int bucket : buckets) {
    plan.scratch.push_back(factory.ScratchBytes(bucket));
    plan.lane_bytes = std::max(plan.lane_bytes, plan.scratch.back());
    plan.slot_bytes += factory.SlotDeviceBytes(bucket) * static_cast<std::size_t>(slots_per_bucket);
  }
  plan.device = factory.QueryDeviceMemory();
  if (plan.device && plan.needed() + kMemoryHeadroomBytes > plan.device->free_bytes) {
    throw Error(ErrorCode::kMemory,
                "not enough free memory on GPU " + std::to_string(plan.device->device) + " for buckets " + JoinInts(buckets) + " with " +
                    std::to_string(slots_per_bucket) + " slots each: they need " + ByteString(plan.needed()) + " (" + Parts(plan) + ") and " +
                    ByteString(kMemoryHeadroomBytes) + " of headroom, but " + ByteString(plan.device->free_bytes) + " of " +
                    ByteString(plan.device->total_bytes) +
                    " is free. Lower the largest bucket (BATCH_BUCKETS: it sizes every lane's activations), or the slots per bucket, "
                    "or serve engines of a smaller dtype (DTYPE), or free the GPU of other processes");
  }
  return plan;
}

}  // namespace smartturn
