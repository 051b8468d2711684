// ts/errors.ts is the catalogue; the README's error table documents it and the server throws from it.
// As fastify checks its error codes against its docs: the three stay in step.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { ERRORS, ServeError } from '../ts/errors.js';
import { ROOT } from './helpers/tools.js';

/** `| `CODE` | status | when |` rows of the README table that follows "Errors are JSON". */
function readmeTable(): Array<[string, number]> {
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const table = readme.slice(readme.indexOf('Errors are JSON')).split('\n\n')[1]!;
  expect(table.split('\n')[0]).to.match(/^\| Code \| Status \| When \|$/);
  return table
    .split('\n')
    .slice(2)
    .map((row) => {
      const m = /^\| `([A-Z_]+)` \| (\d{3}) \| .+ \|$/.exec(row);
      expect(m, `README error table row: ${row}`).not.to.equal(null);
      return [m![1]!, Number(m![2])];
    });
}

describe('errors', () => {
  it('a ServeError takes its status from the catalogue', () => {
    const error = new ServeError('QUEUE_FULL', 'busy', { retryAfter: 1 });
    expect([error.status, error.code, error.retryAfter, error.message]).to.deep.equal([503, 'QUEUE_FULL', 1, 'busy']);
  });

  it('the README table lists exactly the catalogue, code for code and status for status', () => {
    const byCode = (rows: Array<[string, number]>): Array<[string, number]> => [...rows].sort(([a], [b]) => a.localeCompare(b));
    expect(byCode(readmeTable())).to.deep.equal(byCode(Object.entries(ERRORS)));
  });

  it('every code in the catalogue is thrown somewhere in ts/', () => {
    const sources = readdirSync(path.join(ROOT, 'ts'), { recursive: true, encoding: 'utf8' })
      .filter((file) => file.endsWith('.ts') && file !== 'errors.ts')
      .map((file) => readFileSync(path.join(ROOT, 'ts', file), 'utf8'))
      .join('\n');
    const thrown = new Set([...sources.matchAll(/ServeError\(\s*'([A-Z_]+)'/g)].map((m) => m[1]!));
    expect(Object.keys(ERRORS).filter((code) => !thrown.has(code)), 'unused codes').to.deep.equal([]);
  });
});
