// Python literals as `ast.literal_eval` reads them, for the .npy header (ts/npy-header.ts): CPython's
// tokenizer rules where they decide acceptance (newlines, indentation, comments, line continuations,
// string and number literals, bracket nesting) and what literal_eval evaluates (constants, containers,
// one sign on a number, a real plus an imaginary number). What it refuses, this refuses, with one
// exception refused here but not by Python: \N{name} escapes in strings, which need Unicode's name table.

/** What Python would raise (SyntaxError, ValueError, TypeError) for text that is not a literal. */
export class PySyntaxError extends Error {
  override readonly name = 'PySyntaxError';

  /** `position`: the character where reading stopped, when known. */
  constructor(
    message: string,
    readonly position?: number,
  ) {
    super(message);
  }
}

/** CPython's tokenizer refuses this many nested brackets (MAXLEVEL). */
const MAX_NESTING = 200;

/** literal_eval(text), or PySyntaxError. */
export function literalEval(text: string): PyValue {
  return new Parser(text).document();
}

/** A Python value, as far as a caller checking types and ints needs it. */
export type PyValue =
  | { t: 'str'; v: string }
  | { t: 'int'; v: bigint }
  | { t: 'bool'; v: boolean }
  | { t: 'bytes' | 'float' | 'complex' | 'none' | 'ellipsis' | 'list' | 'set' }
  | { t: 'tuple'; items: PyValue[] }
  | { t: 'dict'; entries: Map<string, PyValue>; otherKeys: boolean };

/** Which AST node made a value: literal_eval allows a sign only on a number constant. */
interface Node {
  kind: 'constant' | 'signed' | 'sum' | 'container';
  value: PyValue;
}

type Token =
  | { t: 'op'; v: string }
  | { t: 'name'; v: string }
  | { t: 'number'; value: PyValue }
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
    throw new PySyntaxError(what, this.pos);
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
    if ('([{'.includes(c)) {
      if (this.level >= MAX_NESTING) this.fail('too many nested brackets');
      this.level++;
    }
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

  /** Python's eval input: expressions, where a comma makes a tuple (`{...},` is a 1-tuple), then the end. */
  document(): PyValue {
    const items = [this.expression().value];
    let tuple = false;
    while (this.isOp(',')) {
      tuple = true;
      this.advance();
      if (this.token.t === 'newline' || this.token.t === 'end') break;
      items.push(this.expression().value);
    }
    while (this.token.t === 'newline') this.advance();
    if (this.token.t !== 'end') this.lexer.fail('text after the literal');
    return tuple ? { t: 'tuple', items } : items[0]!;
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
      const constants: Record<string, PyValue> = { True: { t: 'bool', v: true }, False: { t: 'bool', v: false }, None: { t: 'none' }, '...': { t: 'ellipsis' } };
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
    const entries = new Map<string, PyValue>();
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

  private hashable(v: PyValue): void {
    if (v.t === 'list' || v.t === 'set' || v.t === 'dict') this.lexer.fail('an unhashable key or set member');
    if (v.t === 'tuple') v.items.forEach((item) => this.hashable(item));
  }
}
