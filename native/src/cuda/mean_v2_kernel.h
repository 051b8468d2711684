#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace smartturn {

/** The mean-v2 fixture model (see core/test_executors.h) for `rows` rows: one block per row. */
void LaunchMeanV2(const float* values, const int64_t* mask, float* out, int rows, int64_t window, cudaStream_t stream);

}  // namespace smartturn
