#include "core/samples.h"

// ifunc-based clones need glibc; elsewhere (musl, other CPUs) the baseline build is used as is.
#if defined(__x86_64__) && defined(__GLIBC__) && defined(__GNUC__)
#define ST_SIMD_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define ST_SIMD_CLONES
#endif

namespace smartturn {

// `omp simd` (compiled with -fopenmp-simd, no OpenMP runtime) lets the compiler reassociate just
// these float64 reductions, which it otherwise must keep in order and so cannot vectorize.
ST_SIMD_CLONES SampleSums SumSamples(const float* x, std::size_t n) {
  double sum = 0;
  double squares = 0;
#pragma omp simd reduction(+ : sum, squares)
  for (std::size_t i = 0; i < n; ++i) {
    const double v = x[i];
    sum += v;
    squares += v * v;
  }
  return {sum, squares};
}

ST_SIMD_CLONES void NormalizeSamples(const float* __restrict src, std::size_t n, float* __restrict dst, double mean, double scale) {
#pragma omp simd
  for (std::size_t i = 0; i < n; ++i) dst[i] = static_cast<float>((static_cast<double>(src[i]) - mean) * scale);
}

}  // namespace smartturn
