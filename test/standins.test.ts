// bench/standins.py builds the random-weight v2/v3 stand-ins bench:model runs. Here the same modules in a
// tiny configuration (same graph, few narrow layers: seconds, not minutes) must export with the real
// input names, a dynamic batch dimension and a [B, 1] probability, and be served by OnnxBackend.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { SAMPLE_RATE } from '../ts/audio.js';
import { OnnxBackend } from '../ts/backends/onnx.js';

const PYTHON = '/usr/bin/python3';

function hasTorch(): boolean {
  try {
    execFileSync(PYTHON, ['-c', 'import torch, onnx'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('bench stand-in models (tiny configuration)', function () {
  this.timeout(120_000);
  let dir: string;

  before(function () {
    if (!hasTorch()) this.skip(); // needs Debian's python3-torch and python3-onnx
    dir = mkdtempSync(path.join(os.tmpdir(), 'standins-'));
    execFileSync(PYTHON, ['bench/standins.py', 'build', '--tiny', '--out', dir], { stdio: 'ignore' });
  });
  after(() => dir && rmSync(dir, { recursive: true, force: true }));

  it('saves beside each ONNX file the PyTorch weights it was exported from (what the Python design in bench:e2e serves)', async () => {
    const onnx = path.join(dir, 'smart-turn-v3-tiny.onnx');
    const rows = 2;
    const features = Float32Array.from({ length: rows * 80 * 800 }, (_, i) => Math.sin(i / 97) + 0.5 * Math.cos(i / 13));
    const script = [
      'import sys, numpy as np, torch',
      "sys.path.insert(0, 'bench')",
      'from standins import load',
      "x = np.frombuffer(sys.stdin.buffer.read(), '<f4').reshape(-1, 80, 800)",
      "print(' '.join(repr(p) for p in load('v3', sys.argv[1])(torch.from_numpy(x.copy())).reshape(-1).tolist()))",
    ].join('\n');
    const torchSays = execFileSync(PYTHON, ['-c', script, onnx], { input: Buffer.from(features.buffer) }).toString().trim().split(' ').map(Number);
    const backend = await OnnxBackend.open({ modelPath: onnx, buckets: [rows] });
    try {
      const batch = backend.lease(rows);
      (batch.inputs['input_features'] as Float32Array).set(features);
      const onnxSays = [...(await backend.infer(batch, rows))];
      expect(torchSays).to.have.length(rows);
      torchSays.forEach((p, i) => expect(onnxSays[i]).to.be.closeTo(p, 1e-5));
      expect(Math.abs(torchSays[0]! - torchSays[1]!), 'two different inputs, two answers').to.be.above(1e-6);
    } finally {
      await backend.close();
    }
  });

  const cases = [
    { model: 'v2', family: 'smart-turn-v2', seconds: [3, 20] },
    { model: 'v3', family: 'smart-turn-v3', seconds: [2, 8] },
  ] as const;
  for (const { model, family, seconds } of cases) {
    it(`${model} is recognised as ${family} and answers one probability per clip at any batch size`, async () => {
      const backend = await OnnxBackend.open({ modelPath: path.join(dir, `smart-turn-${model}-tiny.onnx`), buckets: [1, 3] });
      try {
        expect(backend.family.id).to.equal(family);
        for (const size of [1, 3]) {
          const batch = backend.lease(size);
          for (let slot = 0; slot < size; slot++) {
            const n = seconds[slot % 2]! * SAMPLE_RATE;
            backend.family.prepare(Float32Array.from({ length: n }, (_, i) => Math.sin(i / (10 + slot)))).write(batch, slot);
          }
          const p = await backend.infer(batch, size);
          expect(p.length).to.equal(size);
          for (const x of p) expect(x).to.be.within(0, 1);
        }
      } finally {
        await backend.close();
      }
    });
  }
});
