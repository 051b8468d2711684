// ts/py-literal.ts against Python's own ast.literal_eval (Debian's /usr/bin/python3): the same value,
// or a refusal, for text near a .npy header mutated at random and for every short run of whitespace,
// comment and continuation characters before and after a dict.
import { execFileSync } from 'node:child_process';
import { expect } from 'chai';
import { literalEval, PySyntaxError, type PyValue } from '../ts/py-literal.js';
import { PYTHON } from './helpers/numpy.js';
import { mutatedHeaders, runsAroundDict } from './helpers/python-syntax.js';

/** literal_eval of each text, as the same plain form `plain` gives ours; 'ERROR' for any exception. */
function pythonValues(texts: readonly string[]): unknown[] {
  const program = `
import ast, json, sys, warnings
warnings.simplefilter('ignore')
def plain(v):
    if isinstance(v, bool): return {'bool': v}
    if isinstance(v, int): return {'int': str(v)}
    if isinstance(v, str): return {'str': v}
    if isinstance(v, tuple): return {'tuple': [plain(x) for x in v]}
    if isinstance(v, dict): return {'dict': {k: plain(x) for k, x in v.items() if isinstance(k, str)}, 'other': any(not isinstance(k, str) for k in v)}
    for kind, name in ((float, 'float'), (complex, 'complex'), (bytes, 'bytes'), (list, 'list'), ((set, frozenset), 'set')):
        if isinstance(v, kind): return name
    return 'none' if v is None else 'ellipsis'
def run(text):
    try:
        return plain(ast.literal_eval(text))
    except BaseException:
        return 'ERROR'
json.dump([run(t) for t in json.load(sys.stdin)], sys.stdout)`;
  return JSON.parse(execFileSync(PYTHON, ['-c', program], { input: JSON.stringify(texts), maxBuffer: 1 << 28 }).toString()) as unknown[];
}

function plain(v: PyValue): unknown {
  switch (v.t) {
    case 'bool':
      return { bool: v.v };
    case 'int':
      return { int: v.v.toString() };
    case 'str':
      return { str: v.v };
    case 'tuple':
      return { tuple: v.items.map(plain) };
    case 'dict':
      return { dict: Object.fromEntries([...v.entries].map(([k, x]) => [k, plain(x)])), other: v.otherKeys };
    default:
      return v.t;
  }
}

function ours(text: string): unknown {
  try {
    return plain(literalEval(text));
  } catch (error) {
    if (error instanceof PySyntaxError) return 'ERROR';
    throw error;
  }
}

function expectSameAsPython(texts: readonly string[]): void {
  const python = pythonValues(texts);
  const differ = texts.flatMap((text, i) => {
    const mine = ours(text);
    return JSON.stringify(mine) === JSON.stringify(python[i]) ? [] : [`${JSON.stringify(text)}: Python ${JSON.stringify(python[i])}, ours ${JSON.stringify(mine)}`];
  });
  expect(differ).to.deep.equal([]);
}

describe('py-literal: literal_eval as Python does it', () => {
  it('refuses what is not a literal, before anything else is read', () => {
    expect(() => literalEval("{'a': 1}\0")).to.throw(PySyntaxError, /NUL/);
    expect(() => literalEval('x')).to.throw(PySyntaxError, /the name "x", which is not a literal/);
  });

  it('agrees with Python on 2000 texts mutated at random from a header dict', function () {
    this.timeout(60_000);
    expectSameAsPython(mutatedHeaders(2000, 7));
  });

  it('agrees with Python on every run of up to three whitespace, comment and continuation characters around a dict', function () {
    this.timeout(60_000);
    expectSameAsPython(runsAroundDict([' ', '\t', '\f', '\n', '\r', '#', '\\', 'x']));
  });

  it('agrees with Python on literal forms beyond what np.save writes', () => {
    expectSameAsPython([
      "{'a': 0x10, 'b': 0o17, 'c': 0b101, 'd': 1_000, 'e': 00, 'f': 010}",
      "{'a': 1.5, 'b': .5, 'c': 5., 'd': 1e3, 'e': 1j, 'f': 1.5e-3J, 'g': 1__0}",
      "{'a': -1, 'b': +1, 'c': --1, 'd': -(1), 'e': -(-1), 'f': -True, 'g': -1.5, 'h': -1j}",
      "{'a': 1+2j, 'b': -1-2j, 'c': 1+-2j, 'd': 1j+2, 'e': 1+2j+3j, 'f': 1+2, 'g': True+1j}",
      "{'a': 'x' \"y\" '''z''', 'b': r'\\x', 'c': u'u', 'd': b'b', 'e': Rb'\\n', 'f': 'x' b'y', 'g': f'f'}",
      "{'a': '\\x41\\101\\u0041\\U00000041\\n\\q', 'b': '\\x4', 'c': '\\N{DIGIT ONE}', 'd': b'\\u0041'}",
      "{'a': (), 'b': (1,), 'c': (1), 'd': ((1,)), 'e': [1, 2,], 'f': {1, 2}, 'g': set(), 'h': {}, 'i': ...}",
      "{'a': {[1]: 2}, 'b': {(1, [2])}, 'c': {(1, 2): 3}, 'a': 'last'}",
      "{'a': True, 'b': None, 'c': Ellipsis, 'd': set([1]), 'e': (1)(2), 'f': [1][0]}",
      "{1: 2, 'a': 3}",
      `{'a': ${'('.repeat(199)}1${',)'.repeat(199)}}`,
      `{'a': ${'('.repeat(200)}1${',)'.repeat(200)}}`,
    ]);
  });
});
