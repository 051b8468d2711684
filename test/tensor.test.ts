// Batches as model families and backends share them (ts/tensor.ts).
import { expect } from 'chai';
import { allocateInput, BatchPool, elementsPerClip, type TensorSpec } from '../ts/tensor.js';

const VALUES: TensorSpec = { name: 'values', type: 'float32', shape: [3, 5] };
const MASK: TensorSpec = { name: 'mask', type: 'int64', shape: [7] };

describe('tensor (ts/tensor.ts)', () => {
  it('a clip holds the product of its per-clip shape; a scalar input holds one', () => {
    expect(elementsPerClip(VALUES)).to.equal(15);
    expect(elementsPerClip({ name: 'scalar', type: 'float32', shape: [] })).to.equal(1);
  });

  it('allocates clip-major arrays of the spec type, zeroed', () => {
    const values = allocateInput(VALUES, 4);
    const mask = allocateInput(MASK, 4);
    expect(values).to.be.instanceOf(Float32Array).with.length(60);
    expect(mask).to.be.instanceOf(BigInt64Array).with.length(28);
    expect(values.every((v) => v === 0)).to.equal(true);
  });

  describe('BatchPool', () => {
    it('lends one array per input, sized for the bucket', () => {
      const batch = new BatchPool([VALUES, MASK]).lease(2);
      expect(batch.size).to.equal(2);
      expect(Object.keys(batch.inputs)).to.deep.equal(['values', 'mask']);
      expect(batch.inputs['values']).to.have.length(30);
      expect(batch.inputs['mask']).to.have.length(14);
    });

    it('lends a released batch again, for its own size only', () => {
      const pool = new BatchPool([VALUES]);
      const two = pool.lease(2);
      pool.release(two);
      expect(pool.lease(4)).to.not.equal(two);
      expect(pool.lease(2)).to.equal(two);
      expect(pool.lease(2)).to.not.equal(two);
    });

    it('forgets released batches on clear()', () => {
      const pool = new BatchPool([VALUES]);
      const one = pool.lease(1);
      pool.release(one);
      pool.clear();
      expect(pool.lease(1)).to.not.equal(one);
    });
  });
});
