// The import graph: no module of ts/ reaches itself through its imports (type-only imports count:
// they tie the modules' meanings together just the same), and no native source through its includes.
// A cycle means a reader cannot understand either module first, and an import-time cycle leaves one
// of them half-initialised.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

function filesUnder(dir: string, extensions: readonly string[]): string[] {
  return readdirSync(path.join(ROOT, dir), { recursive: true, encoding: 'utf8' })
    .filter((file) => extensions.some((ext) => file.endsWith(ext)))
    .map((file) => path.join(dir, file));
}

/** ts/ modules → the ts/ modules they import (`from './x.js'`, `import('./x.js')`, `export … from`). */
function tsGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of filesUnder('ts', ['.ts'])) {
    const text = readFileSync(path.join(ROOT, file), 'utf8');
    const targets = [...text.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)\.js'/g)].map((m) =>
      path.join(path.dirname(file), `${m[1]}.ts`),
    );
    graph.set(file, targets);
  }
  return graph;
}

/** native/src sources → the sources they include (`#include "core/x.h"`, relative to native/src). */
function nativeGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of filesUnder('native/src', ['.h', '.cc', '.cu'])) {
    const text = readFileSync(path.join(ROOT, file), 'utf8');
    graph.set(file, [...text.matchAll(/^\s*#\s*include\s+"([^"]+)"/gm)].map((m) => path.join('native/src', m[1]!)));
  }
  return graph;
}

/** Every cycle found by a depth-first walk, each as the path that closes it. */
function cycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  const found: string[][] = [];
  const done = new Set<string>();
  const stack: string[] = [];
  const visit = (node: string): void => {
    const at = stack.indexOf(node);
    if (at >= 0) {
      found.push([...stack.slice(at), node]);
      return;
    }
    if (done.has(node) || !graph.has(node)) return;
    stack.push(node);
    for (const next of graph.get(node)!) visit(next);
    stack.pop();
    done.add(node);
  };
  for (const node of graph.keys()) visit(node);
  return found;
}

describe('the import graph', () => {
  it('finds a cycle when there is one (the check itself)', () => {
    const graph = new Map([
      ['a', ['b']],
      ['b', ['c']],
      ['c', ['a', 'd']],
      ['d', []],
    ]);
    expect(cycles(graph)).to.deep.equal([['a', 'b', 'c', 'a']]);
    expect(cycles(new Map([['a', ['b']], ['b', []]]))).to.deep.equal([]);
  });

  it('every relative import in ts/ names a module that exists', () => {
    const graph = tsGraph();
    const missing = [...graph].flatMap(([file, targets]) => targets.filter((t) => !graph.has(t)).map((t) => `${file} → ${t}`));
    expect(missing).to.deep.equal([]);
    expect(graph.size).to.be.greaterThan(20);
  });

  it('ts/ has no import cycle', () => {
    expect(cycles(tsGraph()).map((c) => c.join(' → '))).to.deep.equal([]);
  });

  it('native/src/core includes nothing outside core/: it knows neither CUDA, TensorRT nor N-API (runner.h)', () => {
    const graph = nativeGraph();
    const outside = [...graph]
      .filter(([file]) => file.startsWith(path.join('native/src/core') + path.sep))
      .flatMap(([file, targets]) => targets.filter((t) => !t.startsWith(path.join('native/src/core') + path.sep)).map((t) => `${file} → ${t}`));
    expect(outside).to.deep.equal([]);
    const system = [...graph.keys()]
      .filter((file) => file.startsWith(path.join('native/src/core') + path.sep))
      .filter((file) => /^\s*#\s*include\s+<(cuda|Nv|napi)/m.test(readFileSync(path.join(ROOT, file), 'utf8')));
    expect(system).to.deep.equal([]);
  });

  it('native/src has no include cycle', () => {
    const graph = nativeGraph();
    expect(graph.size).to.be.greaterThan(20);
    expect(cycles(graph).map((c) => c.join(' → '))).to.deep.equal([]);
  });
});

/**
 * The ts/ files README.md's overview names (from its start to "## API"): a full path (in the sketch or
 * in backticks), `ts/dir/{a,b}.ts`, or a bare `name.ts`, read in the folder named last before it.
 */
function filesTheReadmeWalks(): Set<string> {
  const overview = readFileSync(path.join(ROOT, 'README.md'), 'utf8').split('\n## API')[0]!;
  const named = new Set<string>();
  let folder = 'ts';
  for (const [, quoted, sketched] of overview.matchAll(/`([^`\s]+)`|(ts\/[\w/{},.-]+\.ts)/g)) {
    const token = (quoted ?? sketched)!;
    const expanded = token.match(/^(.*)\{([^}]+)\}(.*)$/);
    const paths = expanded ? expanded[2]!.split(',').map((part) => `${expanded[1]}${part}${expanded[3]}`) : [token];
    for (const p of paths) {
      if (p.startsWith('ts/') && p.endsWith('/')) folder = p.slice(0, -1);
      else if (p.startsWith('ts/') && p.endsWith('.ts')) {
        named.add(p);
        folder = path.dirname(p);
      } else if (/^[\w-]+\.ts$/.test(p)) named.add(path.join(folder, p));
    }
  }
  return named;
}

describe('the README\'s walk through ts/', () => {
  it('names every file of ts/, each in its folder, and none that is not there', () => {
    const files = filesUnder('ts', ['.ts']).sort();
    const named = filesTheReadmeWalks();
    expect(files.filter((f) => !named.has(f)), 'not in the README').to.deep.equal([]);
    expect([...named].filter((f) => !files.includes(f)), 'named but not there').to.deep.equal([]);
  });
});
