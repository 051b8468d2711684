import { expect } from 'chai';
import { Pace } from '../../ts/stream/pace.js';

describe('stream/pace', () => {
  let now = 0;
  const clock = (): number => now;
  beforeEach(() => (now = 1000));

  it('lets a stream send up to its lead at once, then holds it back by its excess', () => {
    const pace = new Pace(2, clock);
    expect(pace.take(1.5)).to.equal(0);
    expect(pace.take(0.5)).to.equal(0);
    expect(pace.take(0.25)).to.be.closeTo(250, 1e-9);
  });

  it('refills at one second of audio per second of real time', () => {
    const pace = new Pace(2, clock);
    pace.take(2);
    now += 500;
    expect(pace.take(0.5)).to.equal(0);
    expect(pace.take(0.1)).to.be.closeTo(100, 1e-9);
  });

  it('keeps a sender at real time: 20 ms frames every 20 ms are never held', () => {
    const pace = new Pace(0.1, clock);
    for (let i = 0; i < 1000; i++, now += 20) expect(pace.take(0.02)).to.equal(0);
  });

  it('does not bank more than the lead while a stream is quiet', () => {
    const pace = new Pace(2, clock);
    now += 60_000;
    expect(pace.take(2)).to.equal(0);
    expect(pace.take(1)).to.be.closeTo(1000, 1e-9);
  });
});
