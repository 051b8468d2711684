// Device memory, added up before anything is allocated on the device. A slot owns its copies of the
// inputs and outputs; the scratch a batch computes in (TensorRT's activation memory, the largest
// part: for wav2vec2 at bucket 64, gigabytes) is not per slot but per lane. The runner runs a lane's
// batches one at a time (runner.h), so one scratch buffer per lane, sized for the largest bucket,
// serves the lane's slots of every bucket: lanes x largest, instead of slots x every bucket.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "core/executor.h"

namespace smartturn {

/**
 * Left free after the plan: what CUDA and TensorRT allocate besides the buffers counted here
 * (execution contexts' own state, CUDA graphs, the runtime's workspaces).
 */
constexpr std::size_t kMemoryHeadroomBytes = std::size_t{256} << 20;

struct MemoryPlan {
  std::vector<int> buckets;
  int lanes = 0;                     // slots per bucket: each bucket's slot k runs on lane k
  std::vector<std::size_t> scratch;  // per bucket, in the buckets' order: one batch's scratch
  std::size_t lane_bytes = 0;        // each lane's scratch buffer: the largest of `scratch`
  std::size_t slot_bytes = 0;        // every slot's own device memory, together
  std::optional<DeviceMemory> device;  // nullopt: a host executor, nothing on a device

  std::size_t needed() const { return lane_bytes * static_cast<std::size_t>(lanes) + slot_bytes; }
  /** One line for the start-up log and the manifest. */
  std::string Describe() const;
};

/**
 * Asks `factory` what each bucket needs and what its device has free. Throws Error(kMemory) naming
 * the buckets, the slots, what they need, what is free and what to lower, when `needed()` and
 * kMemoryHeadroomBytes do not fit in the device's free memory.
 */
MemoryPlan PlanMemory(const ExecutorFactory& factory, const std::vector<int>& buckets, int slots_per_bucket);

/** "412.0 MiB", "2.10 GiB". */
std::string ByteString(std::size_t bytes);

}  // namespace smartturn
