// Python's pure-Python tokenizer (Lib/tokenize.py of Python 3.11: `_tokenize` and `untokenize` for full
// tokens), ported statement by statement. numpy's `_filter_header` runs version 1.0 and 2.0 .npy headers
// through it (ts/npy-header.ts), and the rebuilt text, which can differ from the header (whitespace
// between tokens becomes spaces, a whitespace-only last line disappears, a first line's indentation is
// rewritten), is what literal_eval then reads; so the port must keep Lib/tokenize.py's quirks.
import { PySyntaxError } from './py-literal.js';

export interface PyToken {
  type: 'NAME' | 'NUMBER' | 'STRING' | 'OP' | 'NEWLINE' | 'NL' | 'COMMENT' | 'INDENT' | 'DEDENT' | 'ERRORTOKEN' | 'ENDMARKER';
  string: string;
  start: [number, number];
  end: [number, number];
}

const group = (...choices: string[]): string => `(?:${choices.join('|')})`;
const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
const STRING_PREFIXES = ((): string[] => {
  const out = new Set(['']);
  const permutations = (s: string): string[] => (s.length <= 1 ? [s] : [...s].flatMap((c, i) => permutations(s.slice(0, i) + s.slice(i + 1)).map((p) => c + p)));
  const cases = (s: string): string[] => (s === '' ? [''] : cases(s.slice(1)).flatMap((rest) => [s[0]! + rest, s[0]!.toUpperCase() + rest]));
  for (const prefix of ['b', 'r', 'u', 'f', 'br', 'fr']) for (const p of permutations(prefix)) for (const c of cases(p)) out.add(c);
  return [...out];
})();
const EXACT_TOKENS = ['**=', '...', '//=', '<<=', '>>=', '!=', '%=', '&=', '**', '*=', '+=', '-=', '->', '//', '/=', ':=', '<<', '<=', '==', '>=', '>>', '@=', '^=', '|=', '%', '&', '(', ')', '*', '+', ',', '-', '.', '/', ':', ';', '<', '=', '>', '@', '[', ']', '^', '{', '|', '}', '~'];

// Lib/tokenize.py's patterns; `.` (no DOTALL in Python) is written [^\n], `\Z` is `$`.
const Whitespace = '[ \\f\\t]*';
const Comment = '#[^\\r\\n]*';
const Name = '[\\p{L}\\p{N}_]+';
const Exponent = '[eE][-+]?[0-9](?:_?[0-9])*';
const Pointfloat = group('[0-9](?:_?[0-9])*\\.(?:[0-9](?:_?[0-9])*)?', '\\.[0-9](?:_?[0-9])*') + `(?:${Exponent})?`;
const Floatnumber = group(Pointfloat, `[0-9](?:_?[0-9])*${Exponent}`);
const Intnumber = group('0[xX](?:_?[0-9a-fA-F])+', '0[bB](?:_?[01])+', '0[oO](?:_?[0-7])+', '(?:0(?:_?0)*|[1-9](?:_?[0-9])*)');
const PyNumber = group(group('[0-9](?:_?[0-9])*[jJ]', `${Floatnumber}[jJ]`), Floatnumber, Intnumber);
const StringPrefix = group(...STRING_PREFIXES);
const TAILS: Record<string, string> = {
  "'": "[^'\\\\]*(?:\\\\[^\\n][^'\\\\]*)*'",
  '"': '[^"\\\\]*(?:\\\\[^\\n][^"\\\\]*)*"',
  "'''": "[^'\\\\]*(?:(?:\\\\[^\\n]|'(?!''))[^'\\\\]*)*'''",
  '"""': '[^"\\\\]*(?:(?:\\\\[^\\n]|"(?!""))[^"\\\\]*)*"""',
};
const Special = group(...[...EXACT_TOKENS].sort().reverse().map(escape));
const Funny = group('\\r?\\n', Special);
const ContStr = group(
  `${StringPrefix}'[^\\n'\\\\]*(?:\\\\[^\\n][^\\n'\\\\]*)*${group("'", '\\\\\\r?\\n')}`,
  `${StringPrefix}"[^\\n"\\\\]*(?:\\\\[^\\n][^\\n"\\\\]*)*${group('"', '\\\\\\r?\\n')}`,
);
const PseudoExtras = group('\\\\\\r?\\n|$', Comment, group(`${StringPrefix}'''`, `${StringPrefix}"""`));
const PSEUDO_TOKEN = new RegExp(`${Whitespace}(${[PseudoExtras, PyNumber, Funny, ContStr, Name].join('|')})`, 'uy');
const END_PATTERNS = Object.fromEntries(Object.entries(TAILS).map(([quote, tail]) => [quote, new RegExp(tail, 'uy')]));
const SINGLE_QUOTED = new Set(STRING_PREFIXES.flatMap((p) => [`${p}'`, `${p}"`]));
const TRIPLE_QUOTED = new Set(STRING_PREFIXES.flatMap((p) => [`${p}'''`, `${p}"""`]));
const IDENTIFIER_START = /[\p{ID_Start}_]/u;

function tokenizeFailure(what: string): PySyntaxError {
  return new PySyntaxError(`${what} (as Python's tokenize reads it)`);
}

/** Lib/tokenize.py `_tokenize` over `text` split after each '\n', as StringIO.readline splits it. */
export function tokenize(text: string): PyToken[] {
  const tokens: PyToken[] = [];
  const emit = (type: PyToken['type'], string: string, start: [number, number], end: [number, number]): void => {
    tokens.push({ type, string, start, end });
  };
  const lines = text.split(/(?<=\n)/);
  let lnum = 0;
  let parenlev = 0;
  let continued = false;
  let contstr = '';
  let needcont = false;
  let strstart: [number, number] = [0, 0];
  let endprog = END_PATTERNS["'"]!;
  const indents = [0];
  let line = '';
  let lastLine = '';
  for (let index = 0; ; index++) {
    lastLine = line;
    line = lines[index] ?? '';
    lnum++;
    let pos = 0;
    const max = line.length;
    if (contstr) {
      if (!line) throw tokenizeFailure('end of input in a multi-line string');
      endprog.lastIndex = 0;
      const endmatch = endprog.exec(line);
      if (endmatch) {
        pos = endmatch[0].length;
        emit('STRING', contstr + line.slice(0, pos), strstart, [lnum, pos]);
        contstr = '';
        needcont = false;
      } else if (needcont && !line.endsWith('\\\n') && !line.endsWith('\\\r\n')) {
        emit('ERRORTOKEN', contstr + line, strstart, [lnum, line.length]);
        contstr = '';
        continue;
      } else {
        contstr += line;
        continue;
      }
    } else if (parenlev === 0 && !continued) {
      if (!line) break;
      let column = 0;
      for (; pos < max; pos++) {
        if (line[pos] === ' ') column++;
        else if (line[pos] === '\t') column = (Math.floor(column / 8) + 1) * 8;
        else if (line[pos] === '\f') column = 0;
        else break;
      }
      if (pos === max) break;
      if ('#\r\n'.includes(line[pos]!)) {
        if (line[pos] === '#') {
          const comment = line.slice(pos).replace(/[\r\n]+$/, '');
          emit('COMMENT', comment, [lnum, pos], [lnum, pos + comment.length]);
          pos += comment.length;
        }
        emit('NL', line.slice(pos), [lnum, pos], [lnum, line.length]);
        continue;
      }
      if (column > indents.at(-1)!) {
        indents.push(column);
        emit('INDENT', line.slice(0, pos), [lnum, 0], [lnum, pos]);
      }
      while (column < indents.at(-1)!) {
        if (!indents.includes(column)) throw tokenizeFailure('an unindent that matches no outer level');
        indents.pop();
        emit('DEDENT', '', [lnum, pos], [lnum, pos]);
      }
    } else {
      if (!line) throw tokenizeFailure('end of input inside brackets or after a line continuation');
      continued = false;
    }

    while (pos < max) {
      PSEUDO_TOKEN.lastIndex = pos;
      const pseudo = PSEUDO_TOKEN.exec(line);
      if (!pseudo) {
        emit('ERRORTOKEN', line[pos]!, [lnum, pos], [lnum, pos + 1]);
        pos++;
        continue;
      }
      const end = pos + pseudo[0].length;
      const start = end - pseudo[1]!.length;
      pos = end;
      if (start === end) continue;
      const token = line.slice(start, end);
      const initial = line[start]!;
      if ('0123456789'.includes(initial) || (initial === '.' && token !== '.' && token !== '...')) {
        emit('NUMBER', token, [lnum, start], [lnum, end]);
      } else if (initial === '\r' || initial === '\n') {
        emit(parenlev > 0 ? 'NL' : 'NEWLINE', token, [lnum, start], [lnum, end]);
      } else if (initial === '#') {
        emit('COMMENT', token, [lnum, start], [lnum, end]);
      } else if (TRIPLE_QUOTED.has(token)) {
        endprog = END_PATTERNS[token.slice(-3)]!;
        endprog.lastIndex = pos;
        const endmatch = endprog.exec(line);
        if (endmatch) {
          pos += endmatch[0].length;
          emit('STRING', line.slice(start, pos), [lnum, start], [lnum, pos]);
        } else {
          strstart = [lnum, start];
          contstr = line.slice(start);
          break;
        }
      } else if (SINGLE_QUOTED.has(initial) || SINGLE_QUOTED.has(token.slice(0, 2)) || SINGLE_QUOTED.has(token.slice(0, 3))) {
        if (token.endsWith('\n')) {
          strstart = [lnum, start];
          endprog = END_PATTERNS[[...token.slice(0, 3)].find((c) => c === "'" || c === '"')!]!;
          contstr = line.slice(start);
          needcont = true;
          break;
        }
        emit('STRING', token, [lnum, start], [lnum, end]);
      } else if (IDENTIFIER_START.test(initial)) {
        emit('NAME', token, [lnum, start], [lnum, end]);
      } else if (initial === '\\') {
        continued = true;
      } else {
        if ('([{'.includes(initial)) parenlev++;
        else if (')]}'.includes(initial)) parenlev--;
        emit('OP', token, [lnum, start], [lnum, end]);
      }
    }
  }
  if (lastLine && !'\r\n'.includes(lastLine.at(-1)!) && !lastLine.trim().startsWith('#')) {
    emit('NEWLINE', '', [lnum - 1, lastLine.length], [lnum - 1, lastLine.length + 1]);
  }
  for (let i = 1; i < indents.length; i++) emit('DEDENT', '', [lnum, 0], [lnum, 0]);
  emit('ENDMARKER', '', [lnum, 0], [lnum, 0]);
  return tokens;
}

/** Lib/tokenize.py `Untokenizer.untokenize` for full tokens: positions decide the spacing. */
export function untokenize(tokens: PyToken[]): string {
  const out: string[] = [];
  let [prevRow, prevCol] = [1, 0];
  const indents: string[] = [];
  let startline = false;
  for (const token of tokens) {
    if (token.type === 'ENDMARKER') break;
    if (token.type === 'INDENT') {
      indents.push(token.string);
      continue;
    }
    if (token.type === 'DEDENT') {
      indents.pop();
      [prevRow, prevCol] = token.end;
      continue;
    }
    if (token.type === 'NEWLINE' || token.type === 'NL') startline = true;
    else if (startline && indents.length) {
      const indent = indents.at(-1)!;
      if (token.start[1] >= indent.length) {
        out.push(indent);
        prevCol = indent.length;
      }
      startline = false;
    }
    const [row, col] = token.start;
    if (row < prevRow || (row === prevRow && col < prevCol)) throw tokenizeFailure('tokens out of order');
    if (row > prevRow) {
      out.push('\\\n'.repeat(row - prevRow));
      prevCol = 0;
    }
    if (col > prevCol) out.push(' '.repeat(col - prevCol));
    out.push(token.string);
    [prevRow, prevCol] = token.end;
    if (token.type === 'NEWLINE' || token.type === 'NL') {
      prevRow++;
      prevCol = 0;
    }
  }
  return out.join('');
}
