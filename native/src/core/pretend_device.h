// Test only: a host executor that pretends to live on a device, so the runner's memory plan and
// lanes run without a GPU. It reports per-row scratch and a device's memory as told, and checks, on
// every batch, the runner's promise that a lane runs one batch at a time (two batches sharing a
// lane's scratch at once would corrupt each other): a second one fails with Error(kInternal).
#pragma once

#include <cstddef>
#include <memory>

#include "core/executor.h"

namespace smartturn {

struct PretendDevice {
  std::size_t free_bytes = 0;
  std::size_t total_bytes = 0;
  std::size_t scratch_bytes_per_row = 0;
};

std::unique_ptr<ExecutorFactory> PretendOnDevice(std::unique_ptr<ExecutorFactory> inner, PretendDevice device);

}  // namespace smartturn
