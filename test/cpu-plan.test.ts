// The CPU plan: ONNX Runtime's threads, spinning and the batch buckets, derived from the cores unless a
// variable sets them, and said once in the start-up log.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { OnnxBackend, type OnnxOptions } from '../ts/backends/onnx.js';
import { loadConfig } from '../ts/config.js';
import { cpuPlan, describePlan, usableCores } from '../ts/startup/cpu-plan.js';
import { READOUT_V3 } from './helpers/fixtures.js';
import { fixture, startTestService, type TestService } from './helpers/service.js';

const derived = (cores: number) => cpuPlan(loadConfig({}), cores);

describe('CPU plan', () => {
  it('gives ONNX Runtime one intra-op thread per core, not spinning, and one inter-op thread', () => {
    for (const cores of [1, 2, 3, 4, 8, 16, 64]) {
      const plan = derived(cores);
      expect(plan, `${cores} cores`).to.include({ cores, intraOpThreads: cores, interOpThreads: 1, allowSpinning: false });
      expect(plan.overriddenBy).to.deep.equal([]);
    }
  });

  it('batches one clip at a time below 4 cores, up to half the cores in powers of two, at most 8', () => {
    const buckets = Object.fromEntries([1, 2, 3, 4, 7, 8, 15, 16, 64].map((cores) => [cores, derived(cores).buckets]));
    expect(buckets).to.deep.equal({
      1: [1],
      2: [1],
      3: [1],
      4: [1, 2],
      7: [1, 2],
      8: [1, 2, 4],
      15: [1, 2, 4],
      16: [1, 2, 4, 8],
      64: [1, 2, 4, 8],
    });
  });

  it('lets intra-op threads spin only when they leave a core free, unless ORT_ALLOW_SPINNING says', () => {
    expect(cpuPlan(loadConfig({ ORT_INTRA_OP_THREADS: '3' }), 4).allowSpinning).to.equal(true);
    expect(cpuPlan(loadConfig({ ORT_INTRA_OP_THREADS: '4' }), 4).allowSpinning).to.equal(false);
    // 0 is ONNX Runtime's own choice, one thread per core: no core left free.
    expect(cpuPlan(loadConfig({ ORT_INTRA_OP_THREADS: '0' }), 4).allowSpinning).to.equal(false);
    expect(cpuPlan(loadConfig({ ORT_ALLOW_SPINNING: '1' }), 4).allowSpinning).to.equal(true);
    expect(cpuPlan(loadConfig({ ORT_INTRA_OP_THREADS: '1', ORT_ALLOW_SPINNING: '0' }), 4).allowSpinning).to.equal(false);
  });

  it('takes each part an operator sets, and names the variables', () => {
    const env = { ORT_INTRA_OP_THREADS: '1', ORT_INTER_OP_THREADS: '2', ORT_ALLOW_SPINNING: '0', BATCH_BUCKETS: '1,4' };
    const plan = cpuPlan(loadConfig(env), 8);
    expect(plan).to.deep.equal({ cores: 8, intraOpThreads: 1, interOpThreads: 2, allowSpinning: false, buckets: [1, 4], overriddenBy: Object.keys(env) });
    expect(describePlan(plan)).to.equal(
      '8 cores: 1 intra-op thread (not spinning), 2 inter-op, buckets 1,4 (ORT_INTRA_OP_THREADS, ORT_INTER_OP_THREADS, ORT_ALLOW_SPINNING, BATCH_BUCKETS set, the rest derived from the cores)',
    );
    expect(describePlan(derived(2))).to.equal('2 cores: 2 intra-op threads (not spinning), 1 inter-op, buckets 1 (all derived from the cores)');
  });

  describe('usable cores', () => {
    let dir: string;
    before(() => (dir = mkdtempSync(path.join(os.tmpdir(), 'cpu-max-'))));
    after(() => rmSync(dir, { recursive: true, force: true }));
    const withQuota = (text: string): number => {
      const file = path.join(dir, 'cpu.max');
      writeFileSync(file, text);
      return usableCores(file);
    };

    it('are the cores Node may run on without a cgroup CPU quota', () => {
      expect(usableCores(path.join(dir, 'absent'))).to.equal(os.availableParallelism());
      expect(withQuota('max 100000\n')).to.equal(os.availableParallelism());
    });

    it('are the quota rounded up when a container is limited to fewer', () => {
      expect(withQuota('50000 100000\n')).to.equal(1);
      expect(withQuota('150000 100000\n')).to.equal(Math.min(2, os.availableParallelism()));
      expect(withQuota(`${100000 * (os.availableParallelism() + 4)} 100000\n`)).to.equal(os.availableParallelism());
    });
  });

  describe('at start-up', () => {
    let svc: TestService | undefined;
    afterEach(async () => svc?.stop());

    const open = OnnxBackend.open;
    afterEach(() => (OnnxBackend.open = open));

    it('is logged once, and the ONNX Runtime backend is opened with it', async () => {
      const opened: OnnxOptions[] = [];
      OnnxBackend.open = (options) => (opened.push(options), open.call(OnnxBackend, options));
      const lines: Array<Record<string, any>> = [];
      const sink = { write: (chunk: string) => chunk.split('\n').filter(Boolean).forEach((l) => lines.push(JSON.parse(l))) };
      svc = await startTestService({ MODEL_PATH: READOUT_V3, ORT_ALLOW_SPINNING: '1' }, undefined, sink);
      const logged = lines.filter((l) => String(l['msg']).startsWith('CPU plan: '));
      expect(logged).to.have.length(1);
      const expected = cpuPlan(loadConfig({ ORT_ALLOW_SPINNING: '1' }));
      expect(logged[0]!['plan']).to.deep.equal(expected);
      expect(logged[0]!['msg']).to.equal(`CPU plan: ${describePlan(expected)}`);
      expect(opened).to.have.length(1);
      const { intraOpThreads, interOpThreads, allowSpinning, buckets } = expected;
      expect(opened[0]).to.deep.include({ intraOpThreads, interOpThreads, allowSpinning, buckets });
      expect(svc.backend.buckets).to.deep.equal(buckets);
    });
  });
});
