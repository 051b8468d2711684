// smart-turn v3's Whisper log-mel features (the arithmetic of ts/features/mel.ts) in C++ that GCC
// vectorizes: the front end's largest per-request computation. Pure function over caller-owned
// memory, safe to call from several threads at once.
#pragma once

#include <cstddef>

namespace smartturn {

/** 8 s at 16 kHz: the window smart-turn v3 sees. */
inline constexpr std::size_t kLogMelSamples = 128000;
inline constexpr std::size_t kLogMelMels = 80;
/** 1 + kLogMelSamples / 160 frames, less the last one, which Whisper drops. */
inline constexpr std::size_t kLogMelFrames = 800;

/**
 * Whisper's log-mel spectrogram of `normalized` (exactly kLogMelSamples samples, already normalized
 * and zero-padded at the start): centred STFT (reflect padding of 200, periodic Hann, n_fft 400,
 * hop 160) → |X|² → 80 Slaney mel bins → log10(max(1e-10, ·)) → floor at max − 8 → (x + 4) / 4,
 * in float64, written as float32 [kLogMelMels, kLogMelFrames] (mel-major) to `out`.
 */
void WhisperLogMel(const float* normalized, float* out);

}  // namespace smartturn
