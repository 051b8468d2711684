// ts/py-tokenize.ts against Python's own Lib/tokenize.py (Debian's /usr/bin/python3): the same tokens
// (type, text, start, end) and the same untokenized text, or a failure where Python raises, for text
// near a .npy header mutated at random and for short runs of whitespace and line characters.
import { execFileSync } from 'node:child_process';
import { expect } from 'chai';
import { PySyntaxError } from '../ts/py-literal.js';
import { tokenize, untokenize } from '../ts/py-tokenize.js';
import { PYTHON } from './helpers/numpy.js';
import { mutatedHeaders, runsAroundDict } from './helpers/python-syntax.js';

function python(texts: readonly string[]): unknown[] {
  const program = `
import io, json, sys, tokenize
def run(text):
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
        return {'tokens': [[tokenize.tok_name[t.type], t.string, list(t.start), list(t.end)] for t in tokens], 'text': tokenize.untokenize(tokens)}
    except BaseException:
        return 'ERROR'
json.dump([run(t) for t in json.load(sys.stdin)], sys.stdout)`;
  return JSON.parse(execFileSync(PYTHON, ['-c', program], { input: JSON.stringify(texts), maxBuffer: 1 << 28 }).toString()) as unknown[];
}

function ours(text: string): unknown {
  try {
    const tokens = tokenize(text);
    return { tokens: tokens.map((t) => [t.type, t.string, t.start, t.end]), text: untokenize(tokens) };
  } catch (error) {
    if (error instanceof PySyntaxError) return 'ERROR';
    throw error;
  }
}

function expectSameAsPython(texts: readonly string[]): void {
  const theirs = python(texts);
  const differ = texts.flatMap((text, i) => (JSON.stringify(ours(text)) === JSON.stringify(theirs[i]) ? [] : [`${JSON.stringify(text)}: Python ${JSON.stringify(theirs[i])}, ours ${JSON.stringify(ours(text))}`]));
  expect(differ.slice(0, 5)).to.deep.equal([]);
}

describe('py-tokenize: Lib/tokenize.py as Python runs it', () => {
  it('agrees with Python on 2000 texts mutated at random from a header dict', function () {
    this.timeout(60_000);
    expectSameAsPython(mutatedHeaders(2000, 11));
  });

  it('agrees with Python on every run of up to three whitespace and line characters around a dict', function () {
    this.timeout(60_000);
    expectSameAsPython(runsAroundDict([' ', '\t', '\f', '\n', '\r', '#', '\\', 'L']));
  });

  it('agrees with Python on strings that span lines and on characters it cannot read', () => {
    expectSameAsPython(["{'a': '''x\ny'''}", "{'a': 'x\\\ny'}", "{'a': 'x\ny'}", "{'a': '''x", "{'a': 1 $ 2}", "{'a':\n  1}\n", "  {'a': 1}\n\t}", "{'a': 1,\n"]);
  });
});
