// .ci/prerequisites.mjs and its list, .ci/packages, kept in step with the tests: every program a test
// spawns (directly, or through a script it runs) and every module the Python it runs imports must be
// either part of Debian's base system or on the list, under the Debian package that really ships it;
// and everything the list installs for the tests must still be used by one.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { PYTHON } from './helpers/numpy.js';
import { ROOT, run } from './helpers/tools.js';

interface Entry {
  package: string;
  provides: string;
  why: 'test' | 'build' | 'platform' | 'absent';
  present: boolean;
}

const CHECKER = path.join(ROOT, '.ci/prerequisites.mjs');
const scratch = mkdtempSync(path.join(os.tmpdir(), 'prerequisites-'));
function scratchList(text: string): string {
  const file = path.join(scratch, `list-${readdirSync(scratch).length}`);
  writeFileSync(file, text);
  return file;
}
const rel = (file: string): string => path.relative(ROOT, file);

function files(dir: string, suffix: string): string[] {
  return readdirSync(path.join(ROOT, dir), { recursive: true, encoding: 'utf8' })
    .map((name) => path.join(ROOT, dir, name))
    .filter((file) => file.endsWith(suffix) && !file.includes('__pycache__') && statSync(file).isFile());
}

const MODULE = String.raw`[A-Za-z_][\w.]*`;
/** The modules Python source imports (import and from-import statements), also where TypeScript holds it in strings. */
function pythonImports(text: string): string[] {
  const found: string[] = [];
  const list = new RegExp(String.raw`(?:^|[;'"\x60])\s*import\s+(${MODULE}(?:\s+as\s+\w+)?(?:\s*,\s*${MODULE}(?:\s+as\s+\w+)?)*)\s*(?=$|[;'"\x60\\])`, 'gm');
  for (const m of text.matchAll(list)) found.push(...m[1]!.split(',').map((part) => part.trim().split(/\s+/)[0]!));
  for (const m of text.matchAll(new RegExp(String.raw`^\s*from\s+(${MODULE})\s+import\b`, 'gm'))) found.push(m[1]!);
  return found.filter((name) => !name.startsWith('.')).map((name) => name.split('.')[0]!);
}

/** Programs named in TypeScript: absolute paths in string literals, and literal first arguments of spawns. */
function spawnedPrograms(text: string): string[] {
  const paths = [...text.matchAll(/['"`](\/usr\/(?:local\/)?s?bin\/[\w.+-]+)['"`]/g)].map((m) => m[1]!);
  const named = [...text.matchAll(/\b(?:spawn|spawnSync|execFile|execFileSync|run)\(\s*'([\w.+-]+)'/g)].map((m) => m[1]!);
  return [...paths, ...named];
}

const SHELL_WORDS = new Set(execFileSync('bash', ['-c', 'compgen -b; compgen -k'], { encoding: 'utf8' }).split('\n').filter(Boolean));

/** Functions the scripts define (lib.sh's are called from the others). */
const shellFunctions = (text: string): string[] => [...text.matchAll(/^\s*([\w-]+)\s*\(\)\s*\{/gm)].map((m) => m[1]!);

/**
 * A script's code with what is not code blanked out: comments, heredocs, single-quoted text and
 * double-quoted text, except the commands substituted inside double quotes (`"$(soxi -D "$f")"`).
 * Each substitution becomes `; command ;`, so its first word reads as a command's.
 */
function codeOf(script: string): string {
  const text = script.replace(/\\\n/g, ' ');
  let out = '';
  const stack: Array<'"' | '$('> = [];
  for (let i = 0; i < text.length; ) {
    const c = text[i]!;
    if (stack[stack.length - 1] === '"') {
      if (c === '\\') i += 2;
      else if (c === '"') (stack.pop(), (out += ' '), i++);
      else if (text.startsWith('$(', i)) (stack.push('$('), (out += ';'), (i += 2));
      else i++;
      continue;
    }
    if (c === "'") {
      const end = text.indexOf("'", i + 1);
      i = end < 0 ? text.length : end + 1;
      out += ' ';
    } else if (c === '"') {
      stack.push('"');
      i++;
    } else if (text.startsWith('$((', i)) {
      const end = text.indexOf('))', i);
      i = end < 0 ? text.length : end + 2;
      out += ' ';
    } else if (text.startsWith('$(', i)) {
      stack.push('$(');
      out += ';';
      i += 2;
    } else if (c === ')' && stack[stack.length - 1] === '$(') {
      stack.pop();
      out += ';';
      i++;
    } else if (c === '#' && (i === 0 || /\s/.test(text[i - 1]!))) {
      const end = text.indexOf('\n', i);
      i = end < 0 ? text.length : end;
    } else if (c === '<' && /^<<-?\s*['"]?(\w+)['"]?/.test(text.slice(i, i + 40))) {
      const word = /^<<-?\s*['"]?(\w+)['"]?/.exec(text.slice(i, i + 40))![1]!;
      const body = text.indexOf('\n', i);
      const end = new RegExp(`^\\s*${word}$`, 'm').exec(text.slice(body + 1));
      i = end ? body + 1 + end.index + end[0].length : text.length;
      out += '\n';
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

/** The programs bash scripts run: the first word of each simple command, less builtins (and functions: see above). */
function shellCommands(script: string): string[] {
  const words: string[] = [];
  for (const line of codeOf(script).split('\n')) {
    for (const segment of line.replace(/\(\([^)]*\)\)/g, ' ').split(/;|&&|\|\||\||\bthen\b|\bdo\b|\belse\b|\)/)) {
      const tokens = segment.trim().replace(/^[!{(]\s*/, '').split(/\s+/);
      while (tokens.length && /^[A-Za-z_]\w*=/.test(tokens[0]!)) tokens.shift(); // VAR=value prefixes
      const [word] = tokens;
      if (word && /^[\w./+-]*[A-Za-z][\w./+-]*$/.test(word) && !SHELL_WORDS.has(word)) words.push(word);
    }
  }
  return words.filter((word) => !word.startsWith('-') && !word.startsWith('./'));
}

/** The Debian package shipping `file`, or undefined. */
function owner(file: string): string | undefined {
  const real = realpathSync(file);
  // Merged /usr: dpkg may know the file under /bin or /sbin.
  for (const candidate of new Set([file, real, real.replace(/^\/usr\/(s?bin)\//, '/$1/')])) {
    try {
      return execFileSync('dpkg-query', ['-S', candidate], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).split(':')[0]!.trim();
    } catch {
      /* try the next spelling (/bin vs /usr/bin) */
    }
  }
  return undefined;
}

function inBaseSystem(pkg: string): boolean {
  const [essential, priority] = execFileSync('dpkg-query', ['-W', '-f=${Essential} ${Priority}', pkg], { encoding: 'utf8' }).split(' ');
  return essential === 'yes' || priority === 'required';
}

function which(name: string): string | undefined {
  if (name.startsWith('/')) return statSync(name, { throwIfNoEntry: false }) ? name : undefined;
  const dirs = (process.env['PATH'] ?? '').split(path.delimiter);
  return dirs.map((dir) => path.join(dir, name)).find((file) => statSync(file, { throwIfNoEntry: false })?.isFile());
}

describe('prerequisites (.ci/packages)', function () {
  this.timeout(60_000);
  let entries: Entry[];
  // This file names programs only to check the scan: it spawns node and dpkg-query, from the base system.
  const tests = files('test', '.ts').filter((file) => path.basename(file) !== 'prerequisites.test.ts');
  const testText = tests.map((file) => readFileSync(file, 'utf8')).join('\n');

  after(() => rmSync(scratch, { recursive: true, force: true }));
  before(() => {
    entries = JSON.parse(execFileSync(process.execPath, [CHECKER, '--json'], { encoding: 'utf8' })) as Entry[];
  });

  const listed = (program: string): Entry | undefined =>
    entries.find((e) => !e.provides.startsWith('python3:') && (e.provides === program || path.basename(e.provides) === path.basename(program)));

  /** The shell scripts the tests run, and the ones those run or source. */
  function scriptsRun(): string[] {
    const scripts = files('scripts', '.sh');
    const quoted = (text: string, file: string): boolean => new RegExp(String.raw`['"/]${path.basename(file).replace('.', '\\.')}['"]`).test(text);
    const used = new Set(scripts.filter((file) => quoted(testText, file)));
    for (let grew = true; grew; ) {
      grew = false;
      const text = [...used].map((file) => readFileSync(file, 'utf8')).join('\n');
      for (const file of scripts) {
        if (!used.has(file) && quoted(text, file)) grew = used.add(file) !== undefined;
      }
    }
    return [...used];
  }

  /** Every program the tests run, directly or through scripts → the first file that runs it. */
  function programsRun(): Map<string, string> {
    const programs = new Map<string, string>();
    for (const file of tests) for (const p of spawnedPrograms(readFileSync(file, 'utf8'))) if (!programs.has(p)) programs.set(p, rel(file));
    const scripts = scriptsRun().map((file) => ({ file, text: readFileSync(file, 'utf8') }));
    const functions = new Set(scripts.flatMap(({ text }) => shellFunctions(text)));
    for (const { file, text } of scripts) for (const p of shellCommands(text)) if (!functions.has(p) && !programs.has(p)) programs.set(p, rel(file));
    return programs;
  }

  /** Python the tests run: files named in a test, the client package, and what the tests hold inline. */
  function pythonSources(): Array<{ where: string; text: string }> {
    const py = [...files('test', '.py'), ...files('scripts', '.py'), ...files('bench', '.py')].filter((file) => testText.includes(path.basename(file)));
    return [
      ...[...py, ...files('clients/python', '.py')].map((file) => ({ where: rel(file), text: readFileSync(file, 'utf8') })),
      ...tests.map((file) => ({ where: rel(file), text: readFileSync(file, 'utf8') })),
    ];
  }

  it('refuses a malformed list, naming the line', async () => {
    const list = scratchList('cmake /usr/bin/cmake build\nsox /usr/bin/sox\n');
    const r = await run(process.execPath, [CHECKER, '--list', list]);
    expect(r.code).to.equal(2);
    expect(r.stderr).to.include(`${list}:2: expected "package provides test|build|platform|absent", got "sox /usr/bin/sox"`);
  });

  it('every program a test spawns, directly or through a script, is in the base system or on the list', () => {
    const programs = programsRun();
    expect([...programs.keys()]).to.include.members(['/usr/bin/sox', 'curl', 'bash', 'espeak-ng', 'soxi', 'node']);

    const unlisted: string[] = [];
    for (const [program, where] of programs) {
      const entry = listed(program);
      const file = which(program);
      if (entry) {
        // Listed: under the package that really ships it, where it is installed.
        if (file && entry.package !== '-') expect(owner(file), `${program} (${where})`).to.equal(entry.package);
        continue;
      }
      const pkg = file && owner(file);
      if (!pkg || !inBaseSystem(pkg)) unlisted.push(`${program} (${where}${pkg ? `; Debian package ${pkg}` : ''})`);
    }
    expect(unlisted, 'add these to .ci/packages').to.deep.equal([]);
  });

  it('every module the tests’ Python imports is in the standard library, the repository, or on the list', () => {
    const stdlib = new Set(execFileSync(PYTHON, ['-c', 'import sys; print("\\n".join(sys.stdlib_module_names))'], { encoding: 'utf8' }).split('\n'));
    // The client's package and, for its tests, their sibling modules (test_stream imports test_client).
    const local = new Set(files('clients/python', '.py').flatMap((file) => [path.basename(path.dirname(file)), path.basename(file, '.py')]));
    const modules = new Map<string, string>();
    for (const { where, text } of pythonSources()) for (const m of pythonImports(text)) if (!modules.has(m)) modules.set(m, where);
    expect([...modules.keys()]).to.include.members(['numpy', 'scipy', 'onnx', 'aiohttp', 'torch', 'pipecat', 'asyncio']);
    const unlisted = [...modules].filter(([m]) => !stdlib.has(m) && !local.has(m) && !entries.some((e) => e.provides === `python3:${m}`));
    expect(unlisted.map(([m, where]) => `${m} (${where})`), 'add these to .ci/packages').to.deep.equal([]);

    // Each listed module comes from the package named for it.
    const present = entries.filter((e) => e.provides.startsWith('python3:') && e.package !== '-' && e.present);
    const where = execFileSync(PYTHON, ['-c', 'import importlib.util, sys\nfor m in sys.argv[1:]: print(importlib.util.find_spec(m).origin)', ...present.map((e) => e.provides.slice(8))], { encoding: 'utf8' }).trim().split('\n');
    present.forEach((e, i) => expect(owner(where[i]!), e.provides).to.equal(e.package));
  });

  it('everything the list installs for the tests is still used by one', () => {
    const programs = new Set([...programsRun().keys()].map((p) => path.basename(p)));
    const modules = new Set(pythonSources().flatMap(({ text }) => pythonImports(text)));
    const unused = entries.filter((e) =>
      e.why === 'test' || e.why === 'absent' ? (e.provides.startsWith('python3:') ? !modules.has(e.provides.slice(8)) : !programs.has(path.basename(e.provides))) : false,
    );
    expect(unused.map((e) => `${e.package} ${e.provides}`), 'remove these from .ci/packages').to.deep.equal([]);
  });

  it('on this machine everything is present that `npm test` needs (what .ci/run installed)', () => {
    const missing = entries.filter((e) => !e.present && e.why !== 'absent');
    expect(missing.map((e) => `${e.provides} (${e.package})`)).to.deep.equal([]);
    const absent = entries.filter((e) => e.why === 'absent' && e.present);
    expect(absent.map((e) => e.provides), 'installed, though the tests cover its absence').to.deep.equal([]);
  });

  it('says exactly what to install when something is missing, and .ci/run gets the package names', async () => {
    const list = scratchList(
      ['libfoo-tools /usr/bin/no-such-program-here test', 'libfoo-tools /usr/bin/no-such-program-either test', 'python3-nosuch python3:no_such_module test',
        'gcc-nosuch /usr/bin/no-such-compiler build', '- no-such-platform-tool platform', '- python3:also_not_here absent', 'coreutils /usr/bin/env test'].join('\n'),
    );
    const r = await run(process.execPath, [CHECKER, '--list', list]);
    expect(r.code).to.equal(1);
    expect(r.stderr).to.include('missing from the platform: no-such-platform-tool (install Node.js 20 or newer with npm)');
    expect(r.stderr).to.include('/usr/bin/no-such-program-here (libfoo-tools), /usr/bin/no-such-program-either (libfoo-tools), python3:no_such_module (python3-nosuch), /usr/bin/no-such-compiler (gcc-nosuch)');
    expect(r.stderr).to.include('\n  sudo apt-get install -y libfoo-tools python3-nosuch gcc-nosuch\n');
    expect((await run(process.execPath, [CHECKER, '--list', list, '--missing=all'])).stdout).to.equal('libfoo-tools python3-nosuch gcc-nosuch\n');
    expect((await run(process.execPath, [CHECKER, '--list', list, '--missing=build'])).stdout).to.equal('gcc-nosuch\n');
    const complete = scratchList('coreutils /usr/bin/env test\n- python3:also_not_here absent\n');
    expect(await run(process.execPath, [CHECKER, '--list', complete])).to.include({ code: 0, stderr: '' });
  });
});
