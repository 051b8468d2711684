#include "cuda/fixture_kernels.h"

#include "core/fixture_models.h"
#include "cuda/cuda_check.h"

namespace smartturn {
namespace {

// Two passes, so a 64-row batch spreads over 64 x kChunks blocks: pass 1 reduces each chunk of a
// row to (plain sum, weighted sum); pass 2 adds a row's kChunks partials in a fixed order.
constexpr int kThreads = 256;
constexpr int kChunks = 32;  // one warp adds them up in pass 2

struct Partial {
  float plain;     // v2: sum m_i; v3: sum f_j
  float weighted;  // v2: sum w_i x_i m_i; v3: sum w_j f_j
};

__device__ Partial WarpSum(Partial p) {
  for (int offset = 16; offset > 0; offset /= 2) {
    p.plain += __shfl_down_sync(0xffffffffu, p.plain, offset);
    p.weighted += __shfl_down_sync(0xffffffffu, p.weighted, offset);
  }
  return p;
}

/** Grid (kChunks, rows). `mask` null: every element counts with weight 1 and adds itself to `plain`. */
__global__ void ChunkSums(const float* x, const int64_t* mask, int64_t n, Partial* partials) {
  const int64_t row = blockIdx.y;
  const int64_t per_chunk = (n + kChunks - 1) / kChunks;
  const int64_t begin = blockIdx.x * per_chunk;
  const int64_t end = begin + per_chunk < n ? begin + per_chunk : n;
  const float* xr = x + row * n;
  const int64_t* mr = mask ? mask + row * n : nullptr;
  Partial acc{0.0f, 0.0f};
  for (int64_t i = begin + threadIdx.x; i < end; i += kThreads) {
    const float w = fixture::ReadoutWeight(static_cast<uint32_t>(i));
    if (mr) {
      const float m = static_cast<float>(mr[i]);
      acc.plain += m;
      acc.weighted += w * xr[i] * m;
    } else {
      acc.plain += xr[i];
      acc.weighted += w * xr[i];
    }
  }
  __shared__ Partial warps[kThreads / 32];
  acc = WarpSum(acc);
  if (threadIdx.x % 32 == 0) warps[threadIdx.x / 32] = acc;
  __syncthreads();
  if (threadIdx.x < 32) {
    acc = threadIdx.x < kThreads / 32 ? warps[threadIdx.x] : Partial{0.0f, 0.0f};
    acc = WarpSum(acc);
    if (threadIdx.x == 0) partials[row * kChunks + blockIdx.x] = acc;
  }
}

enum class Readout { kV2, kV3 };

/** Grid (rows), one warp each. */
template <Readout kind>
__global__ void RowLogits(const Partial* partials, float* logits) {
  const Partial p = WarpSum(partials[blockIdx.x * kChunks + threadIdx.x]);
  if (threadIdx.x == 0) {
    const float z = kind == Readout::kV2 ? fixture::V2Logit(p.plain, p.weighted) : fixture::V3Logit(p.plain, p.weighted);
    logits[blockIdx.x] = fixture::Sigmoid(z);
  }
}

}  // namespace

std::size_t FixtureScratchBytes(int rows) { return static_cast<std::size_t>(rows) * kChunks * sizeof(Partial); }

void LaunchV2Readout(const float* values, const int64_t* mask, float* logits, int rows, void* scratch, cudaStream_t stream) {
  auto* partials = static_cast<Partial*>(scratch);
  ChunkSums<<<dim3(kChunks, rows), kThreads, 0, stream>>>(values, mask, fixture::kV2Window, partials);
  RowLogits<Readout::kV2><<<rows, 32, 0, stream>>>(partials, logits);
  ST_CUDA_CHECK(cudaGetLastError());
}

void LaunchV3Readout(const float* features, float* logits, int rows, void* scratch, cudaStream_t stream) {
  auto* partials = static_cast<Partial*>(scratch);
  ChunkSums<<<dim3(kChunks, rows), kThreads, 0, stream>>>(features, nullptr, fixture::kV3Features, partials);
  RowLogits<Readout::kV3><<<rows, 32, 0, stream>>>(partials, logits);
  ST_CUDA_CHECK(cudaGetLastError());
}

}  // namespace smartturn
