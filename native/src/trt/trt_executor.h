// The production executor: one deserialized TensorRT engine per bucket, built for exactly that
// batch size, and per slot an execution context with its own activation memory, stream and graph.
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
