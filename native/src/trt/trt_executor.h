// The production executor: one deserialized TensorRT engine per bucket, built for exactly that
// batch size; per slot an execution context with its own stream, I/O buffers and graph; per lane
// one activation buffer, sized for the largest bucket, that the lane's contexts share (they never
// run at once: core/runner.h).
#pragma once

#include <map>
#include <memory>
#include <string>

#include "core/executor.h"
#include "cuda/gpu_options.h"

namespace smartturn {

/** `plans`: bucket -> plan file. */
std::unique_ptr<ExecutorFactory> MakeTrtExecutor(const GpuOptions& gpu, const std::map<int, std::string>& plans);

}  // namespace smartturn
