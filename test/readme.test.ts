// README.md's "What backs each claim" table stays true: every test file, script and benchmark it names
// exists, every quoted test title is in the file named before it, and every claim names one.
import { existsSync, readFileSync } from 'node:fs';
import { expect } from 'chai';

const README = readFileSync('README.md', 'utf8');
const SCRIPTS = Object.keys((JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: Record<string, string> }).scripts);

function claims(): Array<{ claim: string; backing: string }> {
  const section = README.split('### What backs each claim')[1]?.split(/\n#{2,3} /)[0] ?? '';
  return section
    .split('\n')
    .filter((line) => line.startsWith('| ') && !line.startsWith('| Claim'))
    .map((line) => {
      const [claim, backing] = line.slice(2, -2).split(' | ');
      return { claim: claim!, backing: backing! };
    });
}

describe('README claims table', () => {
  const rows = claims();

  it('is there, with a row per claim', () => {
    expect(rows.length).to.be.at.least(20);
  });

  for (const { claim, backing } of rows) {
    it(claim, () => {
      // `path` or `npm run script`, each optionally followed by "title fragments" for the path.
      const refs = [...backing.matchAll(/`([^`]+)`((?:,? ?"[^"]+")*)/g)].map((m) => ({ ref: m[1]!, titles: [...m[2]!.matchAll(/"([^"]+)"/g)].map((t) => t[1]!) }));
      const checkable = refs.filter(({ ref }) => /^(test|scripts|bench|tools)\//.test(ref) || ref.startsWith('npm run '));
      expect(checkable, 'names a test, script or benchmark').to.not.be.empty;
      for (const { ref, titles } of checkable) {
        if (ref.startsWith('npm run ')) {
          expect(SCRIPTS, ref).to.include(ref.slice('npm run '.length));
          continue;
        }
        expect(existsSync(ref), `${ref} exists`).to.equal(true);
        const text = readFileSync(ref, 'utf8');
        for (const title of titles) expect(text.includes(title), `${ref} has "${title}"`).to.equal(true);
      }
    });
  }
});
