// How the addon is built (CMakeLists.txt, native/build.mjs): a later `npm run build:native` sees
// TensorRT headers that were not there at the first configure, it says which paths it built, and
// SMART_TURN_REQUIRE_TENSORRT=1 (the GPU image's install) fails without the TensorRT path. Runs the
// real build script on a scratch folder, configuring only (the `help` target compiles nothing),
// against a folder of stand-in header files that only name a TensorRT version.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

function build(out: string, env: Record<string, string>): { status: number | null; lines: string[] } {
  const r = spawnSync(process.execPath, ['native/build.mjs', '--out', out, '--target', 'help'], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, TENSORRT_ROOT: '', SMART_TURN_REQUIRE_TENSORRT: '', ...env },
  });
  return { status: r.status, lines: `${r.stdout}${r.stderr}`.split('\n').filter((l) => l.startsWith('[native]')) };
}

describe('native build', () => {
  it('asks for a CMake that has what CMakeLists.txt uses (find_path NO_CACHE: 3.21)', () => {
    const text = readFileSync(path.join(ROOT, 'CMakeLists.txt'), 'utf8');
    const [major, minor] = text.match(/cmake_minimum_required\(VERSION (\d+)\.(\d+)/)!.slice(1).map(Number) as [number, number];
    if (/\bNO_CACHE\b/.test(text)) expect(major * 100 + minor, 'cmake_minimum_required').to.be.at.least(321);
  });

  describe('npm run build:native', function () {
    this.timeout(180_000);
    let scratch: string;
    before(async () => {
      scratch = await mkdtemp(path.join(os.tmpdir(), 'st-native-build-'));
      const headers = path.join(scratch, 'include');
      await mkdir(headers);
      await writeFile(path.join(headers, 'NvInferVersion.h'), '#define NV_TENSORRT_MAJOR 10\n#define NV_TENSORRT_MINOR 16\n#define NV_TENSORRT_PATCH 1\n');
      await writeFile(path.join(headers, 'NvInfer.h'), '');
      await writeFile(path.join(headers, 'NvOnnxParser.h'), '');
    });
    after(() => rm(scratch, { recursive: true, force: true }));

    it('picks up TensorRT headers given after the first configure, says which paths it built, and fails without them when required', function () {
      const out = path.join(scratch, 'build');
      const first = build(out, { SMART_TURN_REQUIRE_TENSORRT: '1' });
      expect(first.lines.some((l) => l.startsWith('[native] CUDA path: '))).to.equal(true);
      expect(first.lines).to.include('[native] TensorRT path: OFF: ' +
        (first.lines.some((l) => l.startsWith('[native] CUDA path: ON')) ? 'no TensorRT 10 headers (NvInfer.h, NvOnnxParser.h) found (set TENSORRT_ROOT)' : 'needs the CUDA path'));
      expect(first.status, 'SMART_TURN_REQUIRE_TENSORRT=1 without the TensorRT path').to.equal(1);
      expect(first.lines.at(-1)).to.match(/^\[native\] SMART_TURN_REQUIRE_TENSORRT=1, but the addon was built without its TensorRT path/);
      if (!first.lines.some((l) => l.startsWith('[native] CUDA path: ON'))) {
        console.log('      skipped the second half: no CUDA toolkit here, and the TensorRT path needs the CUDA path');
        this.skip();
      }
      const headers = path.join(scratch, 'include');
      const second = build(out, { TENSORRT_ROOT: headers, SMART_TURN_REQUIRE_TENSORRT: '1' });
      expect(second.lines).to.include(`[native] TensorRT path: ON: TensorRT 10.16.1 headers in ${headers}/`);
      expect(second.status).to.equal(0);
    });
  });
});
