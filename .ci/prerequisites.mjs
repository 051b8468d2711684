#!/usr/bin/env node
// What the tests need from the machine (.ci/packages), checked before `npm test` runs a single test,
// so a fresh machine hears exactly what to install instead of meeting failures one by one.
//   node .ci/prerequisites.mjs            exit 1 with the apt-get command if anything is missing
//   node .ci/prerequisites.mjs --missing=all    the Debian packages to install, one line (.ci/run)
//   node .ci/prerequisites.mjs --missing=build  only those the native addon's build needs (setup.sh)
//   node .ci/prerequisites.mjs --json     every entry and whether it is present (for the tests)
//   --list FILE                           another list than .ci/packages (for the tests)
import { execFileSync } from 'node:child_process';
import { accessSync, constants, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const LIST = fileURLToPath(new URL('packages', import.meta.url));
const PYTHON = '/usr/bin/python3';

/** @typedef {{ package: string, provides: string, why: 'test' | 'build' | 'platform' | 'absent', present?: boolean }} Entry */

/** @returns {Entry[]} */
function readList(list) {
  const entries = [];
  for (const [index, raw] of readFileSync(list, 'utf8').split('\n').entries()) {
    const line = raw.replace(/#.*/, '').trim();
    if (!line) continue;
    const [pkg, provides, why, ...rest] = line.split(/\s+/);
    if (!provides || !['test', 'build', 'platform', 'absent'].includes(why) || rest.length) {
      throw new Error(`${list}:${index + 1}: expected "package provides test|build|platform|absent", got ${JSON.stringify(raw)}`);
    }
    entries.push({ package: pkg, provides, why });
  }
  return entries;
}

function executable(file) {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function onPath(name) {
  if (name.includes('/')) return executable(name);
  return (process.env.PATH ?? '').split(path.delimiter).some((dir) => dir && executable(path.join(dir, name)));
}

/** The modules /usr/bin/python3 can import (found without importing them: torch takes seconds). */
function importable(modules) {
  if (modules.length === 0 || !executable(PYTHON)) return new Set();
  const program = 'import importlib.util, sys\nfor m in sys.argv[1:]:\n    if importlib.util.find_spec(m): print(m)';
  return new Set(execFileSync(PYTHON, ['-c', program, ...modules], { encoding: 'utf8' }).split('\n').filter(Boolean));
}

/** @returns {Entry[]} the list, each entry with `present` */
function check(list = LIST) {
  const entries = readList(list);
  const modules = entries.filter((e) => e.provides.startsWith('python3:')).map((e) => e.provides.slice('python3:'.length));
  const found = importable(modules);
  for (const e of entries) {
    e.present = e.provides.startsWith('python3:') ? found.has(e.provides.slice('python3:'.length)) : onPath(e.provides);
  }
  return entries;
}

/** Debian packages that would supply what is missing, for entries needed `for` test and/or build. */
function missingPackages(entries, needs = ['test', 'build']) {
  return [...new Set(entries.filter((e) => !e.present && needs.includes(e.why)).map((e) => e.package))];
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { json: { type: 'boolean' }, missing: { type: 'string' }, list: { type: 'string', default: LIST } } });
  let entries;
  try {
    entries = check(values.list);
  } catch (error) {
    console.error(error.message);
    process.exit(2);
  }
  if (values.json) {
    process.stdout.write(JSON.stringify(entries) + '\n');
  } else if (values.missing !== undefined) {
    process.stdout.write(missingPackages(entries, values.missing === 'build' ? ['build'] : ['test', 'build']).join(' ') + '\n');
  } else {
    const missing = entries.filter((e) => !e.present && e.why !== 'absent');
    const platform = missing.filter((e) => e.why === 'platform');
    const packages = missingPackages(entries);
    if (platform.length) console.error(`missing from the platform: ${platform.map((e) => e.provides).join(', ')} (install Node.js 20 or newer with npm)`);
    if (packages.length) {
      const what = missing.filter((e) => e.package !== '-').map((e) => `${e.provides} (${e.package})`);
      console.error(`npm test needs what these Debian packages provide: ${what.join(', ')}. Install them with\n` +
        `  sudo apt-get install -y ${packages.join(' ')}\n` +
        `or run \`bash .ci/run\` as root, which installs them and runs the suite. The list is .ci/packages.`);
    }
    process.exitCode = missing.length ? 1 : 0;
  }
}
