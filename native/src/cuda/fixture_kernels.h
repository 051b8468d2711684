// The fixture models' functions (core/fixture_models.h) as CUDA kernels, for the CUDA TEST executor
// and the TensorRT stand-in (test/trt-standin/), which compiles this same file. Everything is
// enqueued on `stream` without synchronizing or allocating, so it can be captured in a CUDA graph.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

namespace smartturn {

/** Device scratch the launches below need for `rows` rows (partial sums, one set per row). */
std::size_t FixtureScratchBytes(int rows);

/** v2 read-out of `rows` rows of input_values [rows, 256000] and attention_mask [rows, 256000] into logits [rows]. */
void LaunchV2Readout(const float* values, const int64_t* mask, float* logits, int rows, void* scratch, cudaStream_t stream);

/** v3 read-out of `rows` rows of input_features [rows, 80, 800] into logits [rows]. */
void LaunchV3Readout(const float* features, float* logits, int rows, void* scratch, cudaStream_t stream);

}  // namespace smartturn
