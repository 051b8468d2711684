// The .npy header: the Python dict literal np.save writes, read as NumPy reads it (numpy/lib/format.py
// `_read_array_header`): at most 10000 characters, `ast.literal_eval` of the text (after
// `_filter_header`, which drops the Python 2 'L' of integers, for versions 1.0 and 2.0), exactly the
// keys 'descr', 'fortran_order' and 'shape', a tuple of ints for the shape and a bool for the order.
// Python's own rules are followed where they decide acceptance: CPython's tokenizer (newlines,
// indentation, comments, line continuations, string and number literals) and what literal_eval
// evaluates (constants, containers, one sign on a number, complex sums). One exception, refused where
// NumPy would accept it: \N{name} escapes in strings, which need Unicode's name table.
import { ServeError } from './errors.js';

/** numpy/lib/format.py `_MAX_HEADER_SIZE`: longer headers are refused before they are parsed. */
export const MAX_HEADER_CHARS = 10_000;
/** CPython's tokenizer refuses this many nested brackets (MAXLEVEL). */
const MAX_NESTING = 200;

export interface NpyHeader {
  /** The dtype string; null when the header gives a list or tuple (a structured dtype). */
  descr: string | null;
  fortranOrder: boolean;
  /** Dimensions as Python ints; may be negative or huge: the caller checks them against the body. */
  shape: bigint[];
}

// Clients send the same few headers over and over (one per clip length): the last ones parsed are
// kept, since reading one as Python would costs tens of microseconds. Results are never mutated.
const recent = new Map<string, NpyHeader>();
const RECENT = 32;

/** `text`: the header as decoded (latin1 for versions 1.0 and 2.0, UTF-8 for 3.0). */
export function parseNpyHeader(text: string, major: number): NpyHeader {
  const key = `${major}${text}`;
  let header = recent.get(key);
  if (!header) {
    header = readHeader(text, major);
    if (recent.size >= RECENT) recent.delete(recent.keys().next().value!);
    recent.set(key, header);
  }
  return header;
}

function readHeader(text: string, major: number): NpyHeader {
  let characters = text.length;
  // Python counts code points; a UTF-16 string holds astral ones as two units.
  if (major === 3) for (const c of text.matchAll(/[\ud800-\udbff][\udc00-\udfff]/g)) characters -= c[0].length - 1;
  if (characters > MAX_HEADER_CHARS) {
    throw bad(`.npy header of ${characters} characters is longer than NumPy reads (${MAX_HEADER_CHARS})`);
  }
  const value = new Parser(major < 3 ? filterHeader(text) : text).document();
  if (value.t !== 'dict') throw bad('.npy header is not a Python dict literal');
  const keys = [...value.entries.keys()].sort();
  if (value.otherKeys || keys.join() !== 'descr,fortran_order,shape') {
    throw bad(`.npy header must have exactly the keys 'descr', 'fortran_order' and 'shape', got ${value.otherKeys ? 'non-string keys' : keys.map((k) => `'${k}'`).join(', ') || 'none'}`);
  }
  const descr = value.entries.get('descr')!;
  const fortran = value.entries.get('fortran_order')!;
  const shape = value.entries.get('shape')!;
  if (shape.t !== 'tuple' || !shape.items.every((d) => d.t === 'int' || d.t === 'bool')) {
    throw bad(".npy header's 'shape' is not a tuple of integers");
  }
  if (fortran.t !== 'bool') throw bad(".npy header's 'fortran_order' is not True or False");
  if (descr.t !== 'str' && descr.t !== 'list' && descr.t !== 'tuple') throw bad(".npy header's 'descr' is not a dtype");
  return {
    descr: descr.t === 'str' ? descr.v : null,
    fortranOrder: fortran.v,
    shape: shape.items.map((d) => (d.t === 'int' ? d.v : d.t === 'bool' && d.v ? 1n : 0n)),
  };
}

function bad(message: string): ServeError {
  return new ServeError('BAD_NPY', message);
}

/** A Python value, as far as the header's checks need it. */
type Value =
  | { t: 'str'; v: string }
  | { t: 'int'; v: bigint }
  | { t: 'bool'; v: boolean }
  | { t: 'bytes' | 'float' | 'complex' | 'none' | 'ellipsis' | 'list' | 'set' }
  | { t: 'tuple'; items: Value[] }
  | { t: 'dict'; entries: Map<string, Value>; otherKeys: boolean };

/** Which AST node made a value: literal_eval allows a sign only on a number constant. */
interface Node {
  kind: 'constant' | 'signed' | 'sum' | 'container';
  value: Value;
}

type Token =
  | { t: 'op'; v: string }
  | { t: 'name'; v: string }
  | { t: 'number'; value: Value }
  | { t: 'string'; bytes: boolean; v: string }
  | { t: 'newline' }
  | { t: 'end' };

const IDENTIFIER = /[A-Za-z0-9_\u0080-\uffff]/;
const NUMBER = /0[xX](?:_?[0-9a-fA-F])+|0[oO](?:_?[0-7])+|0[bB](?:_?[01])+|(?:\d(?:_?\d)*)?\.\d(?:_?\d)*(?:[eE][+-]?\d(?:_?\d)*)?[jJ]?|\d(?:_?\d)*(?:\.(?:[eE][+-]?\d(?:_?\d)*)?|[eE][+-]?\d(?:_?\d)*)?[jJ]?/y;
const PREFIXES = new Set(['', 'r', 'u', 'b', 'br', 'rb', 'f', 'fr', 'rf']);
const OPERATORS = new Set(['(', ')', '[', ']', '{', '}', ',', ':', '+', '-']);
const SIMPLE_ESCAPES: Record<string, string> = { '\\': '\\', "'": "'", '"': '"', a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v' };

/** CPython's tokenizer over the header, as much of it as a literal can use. */
class Lexer {
  private pos = 0;
  private level = 0;
  private atLineStart = true;
  private readonly s: string;

  constructor(text: string) {
    if (text.includes('\0')) this.fail('a NUL character');
    // literal_eval strips leading spaces and tabs; the tokenizer reads \r\n and \r as \n.
    this.s = text.replace(/^[ \t]+/, '').replace(/\r\n?/g, '\n');
  }

  fail(what: string): never {
    throw bad(`malformed .npy header at character ${this.pos}: ${what}`);
  }

  next(): Token {
    for (;;) {
      let blank = false;
      if (this.atLineStart) {
        this.atLineStart = false;
        let column = 0;
        let continued = 0;
        for (;;) {
          const c = this.s[this.pos];
          if (c === ' ') column++;
          else if (c === '\t') column = (Math.floor(column / 8) + 1) * 8;
          else if (c === '\f') column = 0;
          else if (c === '\\') {
            // Indentation cannot be split over lines: the first backslash fixes the column.
            continued ||= column;
            this.continuation();
            continue;
          } else break;
          this.pos++;
        }
        const c = this.s[this.pos];
        blank = c === '#' || c === '\n';
        if (!blank && this.level === 0 && (continued || column) > 0) this.fail('unexpected indent');
      }
      for (;;) {
        while (this.s[this.pos] === ' ' || this.s[this.pos] === '\t' || this.s[this.pos] === '\f') this.pos++;
        if (this.s[this.pos] === '#') {
          while (this.pos < this.s.length && this.s[this.pos] !== '\n') this.pos++;
        }
        if (this.pos >= this.s.length) {
          if (this.level > 0) this.fail('unexpected end inside brackets');
          return { t: 'end' };
        }
        if (this.s[this.pos] === '\\') {
          this.continuation();
          continue;
        }
        break;
      }
      if (this.s[this.pos] === '\n') {
        this.pos++;
        this.atLineStart = true;
        if (blank || this.level > 0) continue;
        return { t: 'newline' };
      }
      return this.lexeme();
    }
  }

  private continuation(): void {
    if (this.s[this.pos + 1] !== '\n') this.fail('a backslash that does not end the line');
    this.pos += 2;
    if (this.pos >= this.s.length) this.fail('unexpected end after a line continuation');
  }

  private lexeme(): Token {
    const start = this.pos;
    const c = this.s[start]!;
    if (/\d/.test(c) || (c === '.' && /\d/.test(this.s[start + 1] ?? ''))) return this.number();
    if (this.s.startsWith('...', start)) {
      this.pos += 3;
      return { t: 'name', v: '...' };
    }
    if (IDENTIFIER.test(c)) {
      let end = start;
      while (end < this.s.length && IDENTIFIER.test(this.s[end]!)) end++;
      const word = this.s.slice(start, end);
      const quote = this.s[end];
      if ((quote === "'" || quote === '"') && PREFIXES.has(word.toLowerCase())) {
        this.pos = end;
        return this.string(word.toLowerCase());
      }
      this.pos = end;
      return { t: 'name', v: word };
    }
    if (c === "'" || c === '"') return this.string('');
    if (!OPERATORS.has(c)) this.fail(`unexpected ${JSON.stringify(c)}`);
    this.pos++;
    if ('([{'.includes(c) && ++this.level >= MAX_NESTING) this.fail('too many nested brackets');
    if (')]}'.includes(c)) {
      if (this.level === 0) this.fail(`unmatched ${JSON.stringify(c)}`);
      this.level--;
    }
    return { t: 'op', v: c };
  }

  private number(): Token {
    NUMBER.lastIndex = this.pos;
    const text = NUMBER.exec(this.s)?.[0];
    if (text === undefined) this.fail('a malformed number');
    this.pos += text.length;
    const after = this.s[this.pos] ?? '';
    if (IDENTIFIER.test(after)) this.fail(`a malformed number ${JSON.stringify(text + after)}`);
    if (/[jJ]$/.test(text)) return { t: 'number', value: { t: 'complex' } };
    if (!/^0[xob]/i.test(text) && /[.eE]/.test(text)) return { t: 'number', value: { t: 'float' } };
    const digits = text.replaceAll('_', '');
    if (/^0\d/.test(digits) && /[1-9]/.test(digits)) this.fail(`leading zeros in ${text}`);
    return { t: 'number', value: { t: 'int', v: BigInt(digits) } };
  }

  private string(prefix: string): Token {
    const quote = this.s[this.pos]!;
    const triple = this.s.startsWith(quote.repeat(3), this.pos);
    const close = triple ? quote.repeat(3) : quote;
    this.pos += close.length;
    const start = this.pos;
    for (;;) {
      const c = this.s[this.pos];
      if (c === undefined || (c === '\n' && !triple)) this.fail('an unterminated string');
      if (c === '\\') this.pos += 2;
      else if (this.s.startsWith(close, this.pos)) break;
      else this.pos++;
    }
    const body = this.s.slice(start, this.pos);
    this.pos += close.length;
    if (prefix.includes('f')) this.fail('an f-string, which is not a literal');
    const bytes = prefix.includes('b');
    if (bytes && /[^\x00-\x7f]/.test(body)) this.fail('a non-ASCII character in a bytes literal');
    return { t: 'string', bytes, v: prefix.includes('r') ? body : this.unescape(body, bytes) };
  }

  private unescape(body: string, bytes: boolean): string {
    return body.replace(/\\(\n|[0-7]{1,3}|x.{0,2}|u.{0,4}|U.{0,8}|N|[\s\S])/g, (all, e: string) => {
      if (e === '\n') return '';
      if (SIMPLE_ESCAPES[e] !== undefined) return SIMPLE_ESCAPES[e];
      if (/^[0-7]/.test(e)) return String.fromCharCode(parseInt(e, 8) & (bytes ? 0xff : 0xffff));
      const hex = { x: 2, u: 4, U: 8 }[e[0]!];
      if (hex !== undefined && !(bytes && e[0] !== 'x')) {
        if (e.length !== hex + 1 || !/^[0-9a-fA-F]+$/.test(e.slice(1))) this.fail(`a truncated \\${e[0]} escape`);
        const code = parseInt(e.slice(1), 16);
        if (code > 0x10ffff) this.fail('an escape past U+10FFFF');
        return String.fromCodePoint(code);
      }
      if (e === 'N' && !bytes) this.fail('a \\N{name} escape (not read here)');
      return all.slice(0, 2) + this.unescape(all.slice(2), bytes);
    });
  }
}

/** literal_eval over the tokens: what it evaluates, and a refusal for everything else. */
class Parser {
  private readonly lexer: Lexer;
  private token: Token;

  constructor(text: string) {
    this.lexer = new Lexer(text);
    this.token = this.lexer.next();
  }

  document(): Value {
    const { value } = this.expression();
    while (this.token.t === 'newline') this.advance();
    if (this.token.t !== 'end') this.lexer.fail('text after the header dict');
    return value;
  }

  private advance(): void {
    this.token = this.lexer.next();
  }

  private isOp(v: string): boolean {
    return this.token.t === 'op' && this.token.v === v;
  }

  private expect(v: string): void {
    if (!this.isOp(v)) this.lexer.fail(`expected '${v}'`);
    this.advance();
  }

  /** A sum of a signed real and an imaginary number is the one operation literal_eval evaluates. */
  private expression(): Node {
    let left = this.signed();
    while (this.isOp('+') || this.isOp('-')) {
      this.advance();
      const right = this.signed();
      const real = (left.kind === 'constant' || left.kind === 'signed') && (left.value.t === 'int' || left.value.t === 'float');
      if (!real || right.kind !== 'constant' || right.value.t !== 'complex') this.lexer.fail('an operation that is not a literal');
      left = { kind: 'sum', value: { t: 'complex' } };
    }
    return left;
  }

  private signed(): Node {
    if (!this.isOp('+') && !this.isOp('-')) return this.atom();
    const negative = this.isOp('-');
    this.advance();
    const operand = this.signed();
    const v = operand.value;
    if (operand.kind !== 'constant' || (v.t !== 'int' && v.t !== 'float' && v.t !== 'complex')) this.lexer.fail('a sign on something other than a number');
    return { kind: 'signed', value: v.t === 'int' && negative ? { t: 'int', v: -v.v } : v };
  }

  private atom(): Node {
    const node = this.primary();
    if (this.isOp('(') || this.isOp('[')) this.lexer.fail('a call or subscript, which is not a literal');
    return node;
  }

  private primary(): Node {
    const token = this.token;
    if (token.t === 'number') {
      this.advance();
      return { kind: 'constant', value: token.value };
    }
    if (token.t === 'string') {
      let text = '';
      const bytes = token.bytes;
      while (this.token.t === 'string') {
        if (this.token.bytes !== bytes) this.lexer.fail('bytes and str literals side by side');
        text += this.token.v;
        this.advance();
      }
      return { kind: 'constant', value: bytes ? { t: 'bytes' } : { t: 'str', v: text } };
    }
    if (token.t === 'name') {
      this.advance();
      const constants: Record<string, Value> = { True: { t: 'bool', v: true }, False: { t: 'bool', v: false }, None: { t: 'none' }, '...': { t: 'ellipsis' } };
      if (constants[token.v]) return { kind: 'constant', value: constants[token.v]! };
      if (token.v === 'set' && this.isOp('(')) {
        this.advance();
        this.expect(')');
        return { kind: 'container', value: { t: 'set' } };
      }
      this.lexer.fail(`the name ${JSON.stringify(token.v)}, which is not a literal`);
    }
    if (token.t !== 'op') this.lexer.fail(token.t === 'end' ? 'unexpected end' : 'an unexpected line break');
    if (token.v === '(') return this.parenthesized();
    if (token.v === '[') {
      this.advance();
      this.items(']', () => this.expression());
      return { kind: 'container', value: { t: 'list' } };
    }
    if (token.v === '{') return this.braces();
    this.lexer.fail(`unexpected '${token.v}'`);
  }

  /** `(x)` is x itself; `()`, `(x,)` and `(x, y)` are tuples. */
  private parenthesized(): Node {
    this.advance();
    if (this.isOp(')')) {
      this.advance();
      return { kind: 'container', value: { t: 'tuple', items: [] } };
    }
    const first = this.expression();
    if (this.isOp(')')) {
      this.advance();
      return first;
    }
    this.expect(',');
    const items = [first, ...this.items(')', () => this.expression())];
    return { kind: 'container', value: { t: 'tuple', items: items.map((n) => n.value) } };
  }

  /** `{}` and dicts, or sets; keys and set members must be hashable, as Python requires. */
  private braces(): Node {
    this.advance();
    if (this.isOp('}')) {
      this.advance();
      return { kind: 'container', value: { t: 'dict', entries: new Map(), otherKeys: false } };
    }
    const first = this.expression();
    if (!this.isOp(':')) {
      if (!this.isOp('}')) this.expect(',');
      for (const member of [first, ...this.items('}', () => this.expression())]) this.hashable(member.value);
      return { kind: 'container', value: { t: 'set' } };
    }
    const entries = new Map<string, Value>();
    let otherKeys = false;
    let key = first;
    for (;;) {
      this.hashable(key.value);
      this.expect(':');
      const value = this.expression().value;
      if (key.value.t === 'str') entries.set(key.value.v, value);
      else otherKeys = true;
      if (this.isOp('}')) break;
      this.expect(',');
      if (this.isOp('}')) break;
      key = this.expression();
    }
    this.advance();
    return { kind: 'container', value: { t: 'dict', entries, otherKeys } };
  }

  /** Items separated by commas up to `close` (a trailing comma allowed); `close` is consumed. */
  private items(close: string, item: () => Node): Node[] {
    const out: Node[] = [];
    while (!this.isOp(close)) {
      out.push(item());
      if (this.isOp(',')) this.advance();
      else if (!this.isOp(close)) this.lexer.fail(`expected ',' or '${close}'`);
    }
    this.advance();
    return out;
  }

  private hashable(v: Value): void {
    if (v.t === 'list' || v.t === 'set' || v.t === 'dict') this.lexer.fail('an unhashable key or set member');
    if (v.t === 'tuple') v.items.forEach((item) => this.hashable(item));
  }
}

// ---- numpy's _filter_header, for versions 1.0 and 2.0 -------------------------------------------
// It runs the header through Python's pure-Python tokenizer (Lib/tokenize.py, `_tokenize`), drops a
// NAME 'L' after a NUMBER, and rebuilds the text with `untokenize`. The rebuilt text is what
// literal_eval reads, and it can differ from the header: whitespace between tokens becomes spaces, a
// whitespace-only last line disappears, a first line's indentation is rewritten. The port below
// follows Lib/tokenize.py of Python 3.11 statement by statement, so those differences carry over.

interface PyToken {
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

function tokenizeFailure(what: string): ServeError {
  return bad(`malformed .npy header: ${what} (as Python's tokenize reads it)`);
}

/** Lib/tokenize.py `_tokenize` over `text` split after each '\n', as StringIO.readline splits it. */
function pyTokenize(text: string): PyToken[] {
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
function untokenize(tokens: PyToken[]): string {
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

/** numpy/lib/format.py `_filter_header`: the header with Python 2's long suffix 'L' dropped. */
function filterHeader(text: string): string {
  const kept: PyToken[] = [];
  let afterNumber = false;
  for (const token of pyTokenize(text)) {
    // As numpy: a dropped 'L' leaves afterNumber set, so "1 L L" loses both.
    if (afterNumber && token.type === 'NAME' && token.string === 'L') continue;
    kept.push(token);
    afterNumber = token.type === 'NUMBER';
  }
  return untokenize(kept);
}
