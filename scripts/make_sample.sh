#!/usr/bin/env bash
# Regenerates the committed sample clips in samples/ (16 kHz mono 16-bit WAV), so every tool runs out
# of the box without anyone's recordings:
#   samples/mid.wav  a sentence that stops mid-thought (a turn that is not over)
#   samples/end.wav  a finished question (a turn that is over)
# Speech is synthesised by espeak-ng (Debian package espeak-ng); without it, sox writes tone bursts
# instead, so the tools still have a clip to send. Both are deterministic for a given version.
#   bash scripts/make_sample.sh
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p samples
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

command -v sox >/dev/null || { echo "make_sample.sh: needs sox (apt-get install sox)" >&2; exit 1; }

speak() { # speak NAME TEXT
  if command -v espeak-ng >/dev/null; then
    # -s 150 words/min, voice en-us: a steady, clearly articulated clip; espeak writes 22.05 kHz.
    espeak-ng -v en-us -s 150 -w "$scratch/$1.wav" "$2"
    # 0.3 s of lead-in silence, as a VAD-cut segment has; -D: no dither, so the bytes are reproducible.
    sox -D "$scratch/$1.wav" -r 16000 -c 1 -b 16 -e signed-integer "samples/$1.wav" pad 0.3 0
  else
    echo "make_sample.sh: espeak-ng not found; writing tone bursts to samples/$1.wav" >&2
    # Three 0.6 s bursts one after another (one synth chain would overwrite a single burst instead).
    for f in 220 330 262; do
      sox -D -n -r 16000 -c 1 -b 16 -e signed-integer "$scratch/$1-$f.wav" synth 0.6 sine "$f" vol 0.3
    done
    sox -D "$scratch/$1-220.wav" "$scratch/$1-330.wav" "$scratch/$1-262.wav" "samples/$1.wav" pad 0.3 0
  fi
  echo "samples/$1.wav: $(soxi -D "samples/$1.wav") s, $(stat -c %s "samples/$1.wav") bytes"
}

speak mid "So I was thinking that maybe tomorrow we could"
speak end "Could you tell me what the weather will be like tomorrow?"
