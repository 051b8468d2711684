#include "core/log_mel.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#define ST_INLINE inline __attribute__((always_inline))
// Every function that takes or returns a vector is inlined into one entry point per instruction set
// (see WhisperLogMel), so no vector crosses a call: GCC's notes on vector-passing ABIs do not apply.
// (Template instantiations are diagnosed at the end of the file, so this cannot be a push/pop pair.)
#pragma GCC diagnostic ignored "-Wpsabi"

namespace smartturn {
namespace {

constexpr int kFft = 400;
constexpr int kHop = 160;
constexpr int kPad = kFft / 2;
constexpr int kBins = kFft / 2 + 1;
constexpr int kMels = static_cast<int>(kLogMelMels);
constexpr int kFrames = static_cast<int>(kLogMelFrames);
constexpr int kSamples = static_cast<int>(kLogMelSamples);
constexpr double kRate = 16000;
constexpr double kMelFloor = 1e-10;

// 400 = 4 · 4 · 5 · 5: a self-sorting (Stockham) mixed-radix FFT, one stage per factor.
constexpr int kRadices[] = {4, 4, 5, 5};

struct Tables {
  double window[kFft];
  /** Per stage, for each butterfly p and output k = 1..r-1: exp(-2πi p k / n), as (re, im). */
  std::vector<double> twiddles[std::size(kRadices)];
  /** Sparse triangular filters: weights[offset[m] .. offset[m + 1]) over bins start[m] onward. */
  int start[kMels];
  int offset[kMels + 1];
  std::vector<double> weights;
};

double HertzToMel(double hz) { return hz >= 1000 ? 15 + std::log(hz / 1000) * (27 / std::log(6.4)) : 3 * hz / 200; }
double MelToHertz(double mel) { return mel >= 15 ? 1000 * std::exp(std::log(6.4) / 27 * (mel - 15)) : 200 * mel / 3; }

Tables MakeTables() {
  Tables t{};
  const double pi = std::acos(-1.0);
  for (int i = 0; i < kFft; ++i) t.window[i] = 0.5 - 0.5 * std::cos(2 * pi * i / kFft);  // periodic Hann
  int n = kFft;
  for (std::size_t s = 0; s < std::size(kRadices); ++s) {
    const int r = kRadices[s];
    const int m = n / r;
    for (int p = 0; p < m; ++p) {
      for (int k = 1; k < r; ++k) {
        const double angle = -2 * pi * ((p * k) % n) / n;
        t.twiddles[s].push_back(std::cos(angle));
        t.twiddles[s].push_back(std::sin(angle));
      }
    }
    n = m;
  }
  // transformers' mel_filter_bank(201 bins, 80 filters, 0-8000 Hz, norm="slaney", mel_scale="slaney").
  const double lo = HertzToMel(0);
  const double hi = HertzToMel(kRate / 2);
  double edges[kMels + 2];
  for (int i = 0; i < kMels + 2; ++i) edges[i] = MelToHertz(lo + (hi - lo) * i / (kMels + 1));
  for (int m = 0; m < kMels; ++m) {
    const double left = edges[m], mid = edges[m + 1], right = edges[m + 2];
    const double enorm = 2 / (right - left);
    t.offset[m] = static_cast<int>(t.weights.size());
    t.start[m] = 0;
    for (int k = 0; k < kBins; ++k) {
      const double f = k * (kRate / 2) / (kBins - 1);
      const double w = std::max(0.0, std::min((f - left) / (mid - left), (right - f) / (right - mid))) * enorm;
      if (w <= 0) continue;
      if (static_cast<int>(t.weights.size()) == t.offset[m]) t.start[m] = k;
      // Interior zeros cannot occur: a triangle's support is one run of bins.
      t.weights.push_back(w);
    }
  }
  t.offset[kMels] = static_cast<int>(t.weights.size());
  return t;
}

const Tables& GetTables() {
  static const Tables tables = MakeTables();
  return tables;
}

/** Sample i of the centred signal: `x` reflected at both ends (np.pad mode="reflect"). */
ST_INLINE float Reflected(const float* x, int i) {
  if (i < 0) return x[-i];
  if (i >= kSamples) return x[2 * (kSamples - 1) - i];
  return x[i];
}

// The arithmetic runs on `kLanes` frames at once, one per element of a GCC vector: every butterfly is
// the scalar algorithm on whole vectors, which the compiler maps onto the target's registers. The
// lanes hold kLanes frames as the real part and the next kLanes as the imaginary part, so one complex
// transform yields two real frames' spectra.
// (GCC drops vector_size on a typedef whose size depends on a template parameter: one per width.)
template <int kLanes>
struct Vectors;
template <>
struct Vectors<2> {
  typedef double V __attribute__((vector_size(16)));
  typedef std::int64_t I __attribute__((vector_size(16)));
};
template <>
struct Vectors<4> {
  typedef double V __attribute__((vector_size(32)));
  typedef std::int64_t I __attribute__((vector_size(32)));
};
template <>
struct Vectors<8> {
  typedef double V __attribute__((vector_size(64)));
  typedef std::int64_t I __attribute__((vector_size(64)));
};

template <int kLanes>
struct Lanes {
  using V = typename Vectors<kLanes>::V;
  using I = typename Vectors<kLanes>::I;
  static constexpr int kFramesPerBlock = 2 * kLanes;
  static_assert(kFrames % kFramesPerBlock == 0, "blocks must tile the frames");

  struct Complex {
    V re;
    V im;
  };

  static ST_INLINE Complex Add(const Complex& a, const Complex& b) { return {a.re + b.re, a.im + b.im}; }
  static ST_INLINE Complex Sub(const Complex& a, const Complex& b) { return {a.re - b.re, a.im - b.im}; }
  static ST_INLINE Complex Scale(const Complex& a, double c) { return {a.re * c, a.im * c}; }
  /** a · (wr + i·wi) */
  static ST_INLINE Complex Twiddle(const Complex& a, double wr, double wi) { return {a.re * wr - a.im * wi, a.re * wi + a.im * wr}; }
  /** a − i·b and a + i·b */
  static ST_INLINE Complex MinusI(const Complex& a, const Complex& b) { return {a.re + b.im, a.im - b.re}; }
  static ST_INLINE Complex PlusI(const Complex& a, const Complex& b) { return {a.re - b.im, a.im + b.re}; }

  /** Windowed frames t0 .. t0 + kFramesPerBlock - 1 of `x` into lane layout. */
  static ST_INLINE void LoadFrames(const float* x, int t0, const double* window, Complex* out) {
    float edge[kFft];
    for (int f = 0; f < kFramesPerBlock; ++f) {
      const int first = (t0 + f) * kHop - kPad;
      const float* frame = x + first;
      if (first < 0 || first + kFft > kSamples) {
        for (int i = 0; i < kFft; ++i) edge[i] = Reflected(x, first + i);
        frame = edge;
      }
      const int lane = f % kLanes;
      if (f < kLanes) {
        for (int i = 0; i < kFft; ++i) out[i].re[lane] = frame[i] * window[i];
      } else {
        for (int i = 0; i < kFft; ++i) out[i].im[lane] = frame[i] * window[i];
      }
    }
  }

  /** One Stockham stage of radix r: n-point sub-transforms at stride s, from x into y. */
  template <int r>
  static ST_INLINE void Stage(const Complex* x, Complex* y, int n, int s, const double* twiddles) {
    const int m = n / r;
    for (int p = 0; p < m; ++p) {
      const double* w = twiddles + 2 * (r - 1) * p;
      for (int q = 0; q < s; ++q) {
        Complex a[r];
        for (int j = 0; j < r; ++j) a[j] = x[q + s * (p + j * m)];
        Complex b[r];
        if constexpr (r == 4) {
          const Complex t0 = Add(a[0], a[2]), t1 = Sub(a[0], a[2]), t2 = Add(a[1], a[3]), t3 = Sub(a[1], a[3]);
          b[0] = Add(t0, t2);
          b[1] = MinusI(t1, t3);
          b[2] = Sub(t0, t2);
          b[3] = PlusI(t1, t3);
        } else {
          static_assert(r == 5, "radices 4 and 5 only");
          constexpr double c1 = 0.30901699437494742410;   // cos(2π/5)
          constexpr double c2 = -0.80901699437494742410;  // cos(4π/5)
          constexpr double s1 = 0.95105651629515357212;   // sin(2π/5)
          constexpr double s2 = 0.58778525229247312917;   // sin(4π/5)
          const Complex t1 = Add(a[1], a[4]), t2 = Add(a[2], a[3]), t3 = Sub(a[1], a[4]), t4 = Sub(a[2], a[3]);
          b[0] = Add(a[0], Add(t1, t2));
          const Complex m1 = Add(a[0], Add(Scale(t1, c1), Scale(t2, c2)));
          const Complex m2 = Add(a[0], Add(Scale(t1, c2), Scale(t2, c1)));
          const Complex n1 = Add(Scale(t3, s1), Scale(t4, s2));
          const Complex n2 = Sub(Scale(t3, s2), Scale(t4, s1));
          b[1] = MinusI(m1, n1);
          b[4] = PlusI(m1, n1);
          b[2] = MinusI(m2, n2);
          b[3] = PlusI(m2, n2);
        }
        Complex* out = y + q + s * r * p;
        out[0] = b[0];
        // p = 0 has unit twiddles: every butterfly of the last stage, a quarter of all the products.
        for (int k = 1; k < r; ++k) out[s * k] = p == 0 ? b[k] : Twiddle(b[k], w[2 * (k - 1)], w[2 * (k - 1) + 1]);
      }
    }
  }

  /** The DFT of `x` (400 points, every lane), in natural order, back in `x`; `y` is scratch. */
  static ST_INLINE void Fft(Complex* x, Complex* y, const Tables& t) {
    Stage<4>(x, y, 400, 1, t.twiddles[0].data());
    Stage<4>(y, x, 100, 4, t.twiddles[1].data());
    Stage<5>(x, y, 25, 16, t.twiddles[2].data());
    Stage<5>(y, x, 5, 80, t.twiddles[3].data());
  }

  /** log10 of positive normal numbers, to about 1e-15: the exponent, and an atanh series for the mantissa. */
  static ST_INLINE V Log10(const V& x) {
    I bits;
    std::memcpy(&bits, &x, sizeof bits);
    // Mantissa in [1, 2), then halved above √2 so that the series argument stays below 0.172.
    const I mantissa_bits = (bits & 0x000fffffffffffffLL) | 0x3ff0000000000000LL;
    V m;
    std::memcpy(&m, &mantissa_bits, sizeof m);
    // The biased exponent as a double without an int64 conversion (AVX2 has none): 2^52 + e, less 2^52.
    const I exponent_bits = (bits >> 52) | 0x4330000000000000LL;
    V e;
    std::memcpy(&e, &exponent_bits, sizeof e);
    e -= 4503599627370496.0 + 1023.0;
    const auto high = m > 1.4142135623730951;
    m = high ? m * 0.5 : m;
    e = high ? e + 1.0 : e;
    const V s = (m - 1.0) / (m + 1.0);
    const V z = s * s;
    V p = V{} + 1.0 / 19;
    for (int k = 17; k >= 1; k -= 2) p = p * z + 1.0 / k;
    return (e * 0.69314718055994530942 + 2.0 * s * p) * 0.43429448190325182765;  // ln 2, 1 / ln 10
  }

  /** WhisperLogMel (log_mel.h). */
  static ST_INLINE void Run(const float* normalized, float* out) {
    const Tables& t = GetTables();
    struct Scratch {
      Complex x[kFft];
      Complex y[kFft];
    };
    const auto scratch = std::make_unique<Scratch>();
    Complex* x = scratch->x;
    V most = V{} - HUGE_VAL;
    for (int t0 = 0; t0 < kFrames; t0 += kFramesPerBlock) {
      LoadFrames(normalized, t0, t.window, x);
      Fft(x, scratch->y, t);
      // Z = A + iB for real frames A and B: A[k] = (Z[k] + conj Z[N-k]) / 2, B[k] = (Z[k] - conj Z[N-k]) / 2i.
      V power_a[kBins];
      V power_b[kBins];
      for (int k = 0; k < kBins; ++k) {
        const Complex& zk = x[k];
        const Complex& zj = x[k == 0 ? 0 : kFft - k];
        const V ar = zk.re + zj.re, ai = zk.im - zj.im, br = zk.im + zj.im, bi = zj.re - zk.re;
        power_a[k] = (ar * ar + ai * ai) * 0.25;
        power_b[k] = (br * br + bi * bi) * 0.25;
      }
      for (int m = 0; m < kMels; ++m) {
        const double* w = t.weights.data() + t.offset[m];
        const int count = t.offset[m + 1] - t.offset[m];
        const V* pa = power_a + t.start[m];
        const V* pb = power_b + t.start[m];
        V ea{}, eb{};
        for (int i = 0; i < count; ++i) {
          ea += w[i] * pa[i];
          eb += w[i] * pb[i];
        }
        const V la = Log10(ea > kMelFloor ? ea : V{} + kMelFloor);
        const V lb = Log10(eb > kMelFloor ? eb : V{} + kMelFloor);
        most = most > la ? most : la;
        most = most > lb ? most : lb;
        // float for now: the final pass below reads them back (rounding them here moves the output by
        // at most 2e-7).
        float* row = out + m * kFrames + t0;
        for (int l = 0; l < kLanes; ++l) {
          row[l] = static_cast<float>(la[l]);
          row[kLanes + l] = static_cast<float>(lb[l]);
        }
      }
    }
    double max = -HUGE_VAL;
    for (int l = 0; l < kLanes; ++l) max = std::max(max, most[l]);
    const double floor = max - 8;
    for (int i = 0; i < kMels * kFrames; ++i) {
      const double v = out[i];
      out[i] = static_cast<float>(((v > floor ? v : floor) + 4) / 4);
    }
  }
};

using Kernel = void (*)(const float*, float*);

// One entry point per instruction set, each with as many lanes as its registers hold well (AVX2's 16
// registers spill with wider vectors), chosen once by what the CPU supports.
#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("avx512f,avx512dq,fma"))) void RunAvx512(const float* x, float* out) { Lanes<8>::Run(x, out); }
__attribute__((target("avx2,fma"))) void RunAvx2(const float* x, float* out) { Lanes<4>::Run(x, out); }
#endif
void RunBaseline(const float* x, float* out) { Lanes<2>::Run(x, out); }

Kernel ChooseKernel() {
#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq")) return RunAvx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return RunAvx2;
#endif
  return RunBaseline;
}

}  // namespace

void WhisperLogMel(const float* normalized, float* out) {
  static const Kernel kernel = ChooseKernel();
  kernel(normalized, out);
}

}  // namespace smartturn
