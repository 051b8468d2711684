// TEST executor with a CUDA kernel in place of TensorRT: the real pinned buffers, streams, graph
// capture and replay and event completion, on any GPU, without TensorRT. Never used to serve.
#pragma once

#include <memory>

#include "core/executor.h"
#include "core/test_executors.h"
#include "cuda/gpu_options.h"

namespace smartturn {

std::unique_ptr<ExecutorFactory> MakeCudaTestExecutor(const GpuOptions& gpu, TestExecutorOptions options);

}  // namespace smartturn
