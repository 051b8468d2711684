// tools/lib/wav.ts: WAVs written by sox (an independent encoder) in every sample format at several
// rates, stereo, decode to the expected 16 kHz mono signal.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { decodeWav, fitToSeconds, readWav, WavError } from '../tools/lib/wav.js';

const SOX = '/usr/bin/sox';
const FREQ = 440;
const LEFT = 0.6;
const RIGHT = 0.2;
const SECONDS = 0.5;

/** Interleaved float32 stereo: the same 440 Hz sine at LEFT and RIGHT amplitude. */
function stereoRaw(rate: number): Buffer {
  const frames = Math.round(rate * SECONDS);
  const out = Buffer.alloc(frames * 8);
  for (let i = 0; i < frames; i++) {
    const s = Math.sin((2 * Math.PI * FREQ * i) / rate);
    out.writeFloatLE(LEFT * s, i * 8);
    out.writeFloatLE(RIGHT * s, i * 8 + 4);
  }
  return out;
}

const FORMATS: Array<[string, string[], number]> = [
  // name, sox output encoding, tolerance (8-bit steps are 1/128)
  ['8-bit unsigned PCM', ['-e', 'unsigned-integer', '-b', '8'], 0.02],
  ['16-bit PCM', ['-e', 'signed-integer', '-b', '16'], 0.002],
  ['24-bit PCM', ['-e', 'signed-integer', '-b', '24'], 0.002],
  ['32-bit PCM', ['-e', 'signed-integer', '-b', '32'], 0.002],
  ['32-bit float', ['-e', 'floating-point', '-b', '32'], 0.002],
  ['64-bit float', ['-e', 'floating-point', '-b', '64'], 0.002],
];

describe('wav decoding (tools/lib/wav.ts)', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'smart-turn-wav-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  function soxWav(rate: number, encoding: string[], name: string): string {
    const raw = path.join(dir, `${name}.raw`);
    const wav = path.join(dir, `${name}.wav`);
    writeFileSync(raw, stereoRaw(rate));
    // -D: no dither, so the only error is the format's own quantization.
    execFileSync(SOX, ['-D', '-t', 'raw', '-r', String(rate), '-e', 'floating-point', '-b', '32', '-c', '2', '-L', raw, ...encoding, wav]);
    return wav;
  }

  describe('refuses what it cannot read, saying what to do', () => {
    it('bytes that are not a WAV', () => {
      expect(() => decodeWav(Buffer.from('ID3\x04 not a wav at all'), 'song.mp3')).to.throw(WavError, /song\.mp3 is not a WAV file.*sox/);
    });

    it('a missing file', () => {
      expect(() => readWav(path.join(dir, 'nope.wav'))).to.throw(WavError, /cannot read .*nope\.wav/);
    });

    it('a rate below 8 kHz', () => {
      const wav = soxWav(4000, ['-e', 'signed-integer', '-b', '16'], 'slow');
      expect(() => readWav(wav)).to.throw(WavError, /sample_rate must be .* 8000/);
    });
  });

  for (const rate of [8000, 44100, 48000]) {
    for (const [name, encoding, tolerance] of FORMATS) {
      it(`${name}, stereo, ${rate} Hz → 16 kHz mono, channels averaged`, () => {
        const wav = readWav(soxWav(rate, encoding, `${rate}-${encoding.join('')}`));
        expect(wav.sourceRate).to.equal(rate);
        expect(wav.channels).to.equal(2);
        expect(wav.samples.length).to.be.closeTo(16000 * SECONDS, 2);
        // Away from the edges, where the resampler's filter sees the silence outside the clip.
        let worst = 0;
        for (let i = 200; i < wav.samples.length - 200; i++) {
          const expected = ((LEFT + RIGHT) / 2) * Math.sin((2 * Math.PI * FREQ * i) / 16000);
          worst = Math.max(worst, Math.abs(wav.samples[i]! - expected));
        }
        expect(worst).to.be.below(tolerance);
      });
    }
  }

  it('reads the shipped sample as 16 kHz mono speech of a few seconds', () => {
    const wav = decodeWav(readFileSync(new URL('../samples/mid.wav', import.meta.url)));
    expect([wav.sourceRate, wav.channels, wav.bitDepth]).to.deep.equal([16000, 1, '16']);
    expect(wav.samples.length / 16000).to.be.within(2, 8);
    expect(Math.max(...wav.samples.map(Math.abs))).to.be.within(0.1, 1);
  });

  describe('fitToSeconds', () => {
    const ramp = Float32Array.from({ length: 32000 }, (_, i) => i + 1);

    it('keeps the end of a longer clip', () => {
      const out = fitToSeconds(ramp, 1);
      expect(out.length).to.equal(16000);
      expect([out[0], out[15999]]).to.deep.equal([16001, 32000]);
    });

    it('puts silence before a shorter clip', () => {
      const out = fitToSeconds(ramp, 3);
      expect(out.length).to.equal(48000);
      expect([out[15999], out[16000], out[47999]]).to.deep.equal([0, 1, 32000]);
    });
  });
});
