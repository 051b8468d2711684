// npm run mutate [-- [--full] group...]: mutation testing of the request path with StrykerJS, one run per
// group of modules against the test files that exercise them (a mutant is run only against the tests
// that cover it), then a score per module and the list of survivors. Not part of `npm test`: a full run
// takes an hour or more on a small machine. Runs are incremental (reports/mutation/<group>.incremental.json):
// a mutant whose code and tests did not change keeps its last result; --full tests every mutant again.
// Reports: reports/mutation/<group>.json, and summary.json.
// Child-process tests (drain, scripts, tools, python client) are left out: the mutant is switched on in
// the test runner's process only.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { MutantResult, PartialStrykerOptions } from '@stryker-mutator/api/core';
import { Stryker } from '@stryker-mutator/core';

interface Group {
  mutate: string[];
  tests: string[];
}

// Per group, the tests written for those modules, plus the end-to-end files that exercise what they
// do not (a full server test file per mutant would take hours here: nearly every test covers the batcher).
const GROUPS: Record<string, Group> = {
  npy: {
    mutate: ['ts/npy.ts', 'ts/npy-header.ts', 'ts/py-literal.ts', 'ts/py-tokenize.ts'],
    tests: ['test/npy.test.ts', 'test/py-literal.test.ts', 'test/py-tokenize.test.ts', 'test/fuzz.test.ts'],
  },
  audio: {
    mutate: ['ts/audio.ts', 'ts/model/*.ts'],
    tests: ['test/audio.test.ts', 'test/family.test.ts', 'test/model-v2.test.ts', 'test/model-v3.test.ts', 'test/v2-preprocessing.test.ts', 'test/mel.test.ts', 'test/samples.test.ts', 'test/copies.test.ts', 'test/batcher.test.ts', 'test/tensorrt.test.ts'],
  },
  batcher: { mutate: ['ts/batcher.ts'], tests: ['test/batcher.test.ts', 'test/readiness.test.ts', 'test/tensorrt.test.ts'] },
  http: { mutate: ['ts/http/*.ts'], tests: ['test/server.test.ts', 'test/log.test.ts', 'test/fuzz.test.ts', 'test/copies.test.ts'] },
};

const REPORTS = 'reports/mutation';
const DETECTED = new Set(['Killed', 'Timeout']);
const UNDETECTED = new Set(['Survived', 'NoCoverage']);

async function runGroup(name: string, group: Group): Promise<MutantResult[]> {
  const options: PartialStrykerOptions = {
    testRunner: 'mocha',
    plugins: ['@stryker-mutator/mocha-runner'],
    testRunnerNodeArgs: ['--import', 'tsx'],
    mochaOptions: { spec: group.tests, extension: ['ts'] },
    mutate: group.mutate,
    coverageAnalysis: 'perTest',
    // Two cores, shared: one test process, generous timeouts so a busy machine does not read as kills.
    concurrency: Number(process.env['MUTATE_CONCURRENCY'] ?? 1),
    timeoutMS: 20_000,
    timeoutFactor: 2,
    reporters: ['progress', 'json'],
    jsonReporter: { fileName: path.join(REPORTS, `${name}.json`) },
    tempDirName: '.stryker-tmp',
    cleanTempDir: 'always',
    incremental: true,
    incrementalFile: path.join(REPORTS, `${name}.incremental.json`),
    force: full,
  };
  return new Stryker(options).runMutationTest();
}

const score = (results: MutantResult[]): string => {
  const detected = results.filter((r) => DETECTED.has(r.status)).length;
  const valid = results.filter((r) => DETECTED.has(r.status) || UNDETECTED.has(r.status)).length;
  return `${detected}/${valid} detected (${valid ? ((100 * detected) / valid).toFixed(1) : '-'} %)`;
};

const full = process.argv.includes('--full');
const wanted = process.argv.slice(2).filter((arg) => arg !== '--full');
const unknown = wanted.filter((g) => !(g in GROUPS));
if (unknown.length) {
  console.error(`unknown group(s) ${unknown.join(', ')}; groups: ${Object.keys(GROUPS).join(', ')}`);
  process.exit(2);
}
mkdirSync(REPORTS, { recursive: true });
const all: MutantResult[] = [];
for (const name of wanted.length ? wanted : Object.keys(GROUPS)) all.push(...(await runGroup(name, GROUPS[name]!)));

const byFile = new Map<string, MutantResult[]>();
for (const r of all) byFile.set(r.fileName, [...(byFile.get(r.fileName) ?? []), r]);
const lines = [...byFile].map(([file, results]) => {
  const count = (status: string): number => results.filter((r) => r.status === status).length;
  return `${path.relative(process.cwd(), file).padEnd(22)} ${score(results).padEnd(28)} killed ${count('Killed')}, timeout ${count('Timeout')}, survived ${count('Survived')}, no coverage ${count('NoCoverage')}`;
});
const survivors = all
  .filter((r) => UNDETECTED.has(r.status))
  .map((r) => `${path.relative(process.cwd(), r.fileName)}:${r.location.start.line} ${r.status} ${r.mutatorName}: ${r.replacement.replace(/\s+/g, ' ').slice(0, 100)}`);
console.log(['', 'mutation score per module:', ...lines, `all: ${score(all)}`, '', 'undetected mutants:', ...survivors].join('\n'));
writeFileSync(path.join(REPORTS, 'summary.json'), JSON.stringify({ modules: lines, total: score(all), survivors }, null, 2));
