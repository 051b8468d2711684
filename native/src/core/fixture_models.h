// The value-sensitive fixture models' functions (scripts/make_fixtures.py writes them as ONNX, the
// readout-v2/-v3 models; the team brief agreed the formulas): the parts the CUDA kernels
// (cuda/fixture_kernels.cu) of the CUDA TEST executor and the TensorRT stand-in (test/trt-standin/)
// share, as functions nvcc compiles for the device and a C++ compiler for the host.
//
// Read-out weights over a clip's flat input index i, exact in float32:
//   k = i * 2654435761 mod 2^32,  w_i = float32(k >> 8) * 2^-24 - 0.5
// v2 (input_values float32 [B, 256000], attention_mask int64 [B, 256000] -> logits [B, 1]):
//   c = sum m_i,  s = sum w_i x_i m_i,  z = 4 s / sqrt(max(c, 1)) + 4 (c / 256000 - 0.5)
// v3 (input_features float32 [B, 80, 800] -> logits [B, 1]), j = mel * 800 + frame:
//   z = mean(f) + 4 sum w_j f_j / sqrt(64000)
// logits = sigmoid(z).
#pragma once

#include <cmath>
#include <cstdint>

// Plain C++ here (core/ has no CUDA); nvcc sees the same inline functions as host and device code.
#if defined(__CUDACC__)
#define ST_HOST_DEVICE __host__ __device__
#else
#define ST_HOST_DEVICE
#endif

namespace smartturn::fixture {

constexpr int64_t kV2Window = 16 * 16000;
constexpr int64_t kV3Mels = 80;
constexpr int64_t kV3Frames = 800;
constexpr int64_t kV3Features = kV3Mels * kV3Frames;

ST_HOST_DEVICE inline float ReadoutWeight(uint32_t i) {
  const uint32_t k = i * 2654435761u;  // wraps mod 2^32 by definition of uint32_t
  return static_cast<float>(k >> 8) * (1.0f / 16777216.0f) - 0.5f;
}

ST_HOST_DEVICE inline float Sigmoid(float z) { return 1.0f / (1.0f + expf(-z)); }

/** v2's logit from c = sum m_i and s = sum w_i x_i m_i. */
ST_HOST_DEVICE inline float V2Logit(float count, float weighted) {
  return 4.0f * weighted / sqrtf(fmaxf(count, 1.0f)) + 4.0f * (count / static_cast<float>(kV2Window) - 0.5f);
}

/** v3's logit from sum f_j and sum w_j f_j. */
ST_HOST_DEVICE inline float V3Logit(float total, float weighted) {
  return total / static_cast<float>(kV3Features) + 4.0f * weighted / sqrtf(static_cast<float>(kV3Features));
}

}  // namespace smartturn::fixture
