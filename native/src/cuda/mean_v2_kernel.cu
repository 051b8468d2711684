#include "cuda/mean_v2_kernel.h"

#include "cuda/cuda_check.h"

namespace smartturn {
namespace {

constexpr int kThreads = 256;

__device__ float2 WarpSum(float2 v) {
  for (int offset = 16; offset > 0; offset /= 2) {
    v.x += __shfl_down_sync(0xffffffffu, v.x, offset);
    v.y += __shfl_down_sync(0xffffffffu, v.y, offset);
  }
  return v;
}

__global__ void MeanV2Kernel(const float* values, const int64_t* mask, float* out, int64_t window) {
  const int64_t base = static_cast<int64_t>(blockIdx.x) * window;
  float2 acc = make_float2(0.0f, 0.0f);  // (sum of masked values, count of mask)
  for (int64_t i = threadIdx.x; i < window; i += kThreads) {
    const float m = static_cast<float>(mask[base + i]);
    acc.x += values[base + i] * m;
    acc.y += m;
  }
  __shared__ float2 partial[kThreads / 32];
  acc = WarpSum(acc);
  if (threadIdx.x % 32 == 0) partial[threadIdx.x / 32] = acc;
  __syncthreads();
  if (threadIdx.x < 32) {
    acc = threadIdx.x < kThreads / 32 ? partial[threadIdx.x] : make_float2(0.0f, 0.0f);
    acc = WarpSum(acc);
    if (threadIdx.x == 0) {
      const float mean = acc.x / fmaxf(acc.y, 1.0f);
      const float z = mean + 8.0f * (acc.y / static_cast<float>(window) - 0.5f);
      out[blockIdx.x] = 1.0f / (1.0f + expf(-z));
    }
  }
}

}  // namespace

void LaunchMeanV2(const float* values, const int64_t* mask, float* out, int rows, int64_t window, cudaStream_t stream) {
  MeanV2Kernel<<<rows, kThreads, 0, stream>>>(values, mask, out, window);
  ST_CUDA_CHECK(cudaGetLastError());
}

}  // namespace smartturn
