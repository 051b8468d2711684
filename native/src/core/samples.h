// The front end's per-sample passes over a request's float32 audio, in C++ so that they vectorize:
// V8 runs each of these loops at about 1 ns a sample, this at 0.1-0.5 (AVX2/AVX-512 clones chosen
// at load time where the C library supports it). Pure functions over caller-owned memory.
#pragma once

#include <cstddef>

namespace smartturn {

struct SampleSums {
  double sum;      // finite exactly when every sample is: a float64 sum of floats cannot overflow
  double squares;  // sum of x*x, for the variance
};

SampleSums SumSamples(const float* x, std::size_t n);

/** dst[i] = (src[i] - mean) * scale, computed in float64 and rounded once, as JavaScript does it. */
void NormalizeSamples(const float* src, std::size_t n, float* dst, double mean, double scale);

}  // namespace smartturn
