import { execFileSync } from 'node:child_process';
import { expect } from 'chai';
import { PYTHON } from './helpers/numpy.js';

describe('fixtures', () => {
  it('are exactly what scripts/make_fixtures.py makes', function () {
    this.timeout(60_000);
    const out = execFileSync(PYTHON, ['scripts/make_fixtures.py', '--check'], { encoding: 'utf8' });
    expect(out).to.equal('');
  });
});
