// What the ONNX Runtime session thread creates its session with.
import { expect } from 'chai';
import { sessionOptions } from '../ts/backends/onnx-protocol.js';

describe('ONNX Runtime session options', () => {
  const init = { modelPath: 'model.onnx', intraOpThreads: 2, interOpThreads: 1 };

  it('passes threads through and sets spinning for both pools as session configuration entries', () => {
    expect(sessionOptions({ ...init, allowSpinning: false })).to.deep.include({
      intraOpNumThreads: 2,
      interOpNumThreads: 1,
      extra: { 'session.intra_op.allow_spinning': '0', 'session.inter_op.allow_spinning': '0' },
    });
    expect(sessionOptions({ ...init, allowSpinning: true }).extra).to.deep.equal({
      'session.intra_op.allow_spinning': '1',
      'session.inter_op.allow_spinning': '1',
    });
  });

  it("leaves spinning to ONNX Runtime's default when unset", () => {
    expect(sessionOptions({ ...init, allowSpinning: undefined }).extra).to.deep.equal({});
  });
});
