// A cursor over JSON text that checks the grammar exactly as JSON.parse does (RFC 8259), for readers
// that take what they need from a document in place instead of parsing all of it into objects. Any
// departure — from the grammar, or from the shape the reader expects — throws LEFT_SHAPE (see leave()).

/** Thrown when the text leaves the grammar or the shape a reader takes; readers catch it and step aside. */
export const LEFT_SHAPE = new Error('not in the expected shape');
export function leave(): never {
  throw LEFT_SHAPE;
}

export const QUOTE = 0x22;
const BACKSLASH = 0x5c;
export const COMMA = 0x2c;
export const COLON = 0x3a;
export const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
export const OPEN_BRACKET = 0x5b;
export const CLOSE_BRACKET = 0x5d;
const MINUS = 0x2d;
const ZERO = 0x30;
const NINE = 0x39;
export const LETTER_N = 0x6e;
const LETTER_T = 0x74;
const LETTER_F = 0x66;

const isDigit = (c: number) => c >= ZERO && c <= NINE;
const isHex = (c: number) => isDigit(c) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);

export class JsonCursor {
  readonly text: string;
  at = 0;
  constructor(text: string) {
    this.text = text;
  }

  /** Skips whitespace; the next character's code (NaN at the end). */
  next(): number {
    const text = this.text;
    let at = this.at;
    for (;;) {
      const c = text.charCodeAt(at);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) at++;
      else {
        this.at = at;
        return c;
      }
    }
  }

  expect(code: number): void {
    if (this.next() !== code) leave();
    this.at++;
  }

  /** After a member's value: true at the end of the object, false before the next member. */
  endOfMembers(): boolean {
    const c = this.next();
    this.at++;
    if (c === CLOSE_BRACE) return true;
    if (c !== COMMA) leave();
    return false;
  }

  /** At '{': true when the object is empty (and then skipped). */
  openObject(): boolean {
    this.at++;
    if (this.next() !== CLOSE_BRACE) return false;
    this.at++;
    return true;
  }

  /** The key that starts at the next non-blank character, and its colon. */
  key(): string {
    if (this.next() !== QUOTE) leave();
    const key = this.string();
    this.expect(COLON);
    return key;
  }

  /** The string that starts here (at its quote), decoded. */
  string(): string {
    const text = this.text;
    const start = this.at + 1;
    let at = start;
    for (;;) {
      const c = text.charCodeAt(at);
      if (c === QUOTE) {
        this.at = at + 1;
        return text.slice(start, at);
      }
      if (c === BACKSLASH) {
        this.skipString();
        return JSON.parse(text.slice(start - 1, this.at)) as string;
      }
      if (!(c >= 0x20)) leave(); // a control character, or the end (NaN)
      at++;
    }
  }

  skipString(): void {
    const text = this.text;
    let at = this.at + 1;
    for (;;) {
      const c = text.charCodeAt(at++);
      if (c === QUOTE) break;
      if (c === BACKSLASH) {
        const e = text.charCodeAt(at++);
        if (e === 0x75) {
          if (!(isHex(text.charCodeAt(at)) && isHex(text.charCodeAt(at + 1)) && isHex(text.charCodeAt(at + 2)) && isHex(text.charCodeAt(at + 3)))) leave();
          at += 4;
        } else if (!(e === QUOTE || e === BACKSLASH || e === 0x2f || e === 0x62 || e === 0x66 || e === LETTER_N || e === 0x72 || e === LETTER_T)) {
          leave();
        }
      } else if (!(c >= 0x20)) leave();
    }
    this.at = at;
  }

  skipNumber(): void {
    const text = this.text;
    let at = this.at;
    if (text.charCodeAt(at) === MINUS) at++;
    const first = text.charCodeAt(at);
    if (first === ZERO) at++;
    else if (isDigit(first)) while (isDigit(text.charCodeAt(at))) at++;
    else leave();
    if (text.charCodeAt(at) === 0x2e) {
      at++;
      if (!isDigit(text.charCodeAt(at))) leave();
      while (isDigit(text.charCodeAt(at))) at++;
    }
    const e = text.charCodeAt(at);
    if (e === 0x65 || e === 0x45) {
      at++;
      const sign = text.charCodeAt(at);
      if (sign === 0x2b || sign === MINUS) at++;
      if (!isDigit(text.charCodeAt(at))) leave();
      while (isDigit(text.charCodeAt(at))) at++;
    }
    this.at = at;
  }

  literal(word: string): void {
    if (!this.text.startsWith(word, this.at)) leave();
    this.at += word.length;
  }

  /** Skips the value that starts at the next non-blank character. */
  skipValue(): void {
    const c = this.next();
    if (c === QUOTE) this.skipString();
    else if (c === OPEN_BRACE) {
      if (this.openObject()) return;
      do {
        this.key();
        this.skipValue();
      } while (!this.endOfMembers());
    } else if (c === OPEN_BRACKET) {
      this.at++;
      if (this.next() === CLOSE_BRACKET) {
        this.at++;
        return;
      }
      for (;;) {
        this.skipValue();
        const d = this.next();
        this.at++;
        if (d === CLOSE_BRACKET) return;
        if (d !== COMMA) leave();
      }
    } else if (c === LETTER_T) this.literal('true');
    else if (c === LETTER_F) this.literal('false');
    else if (c === LETTER_N) this.literal('null');
    else this.skipNumber();
  }

  /** A scalar member of the document (not a change). */
  scalar(): string | number | boolean | null {
    const c = this.next();
    if (c === QUOTE) return this.string();
    if (c === LETTER_T) {
      this.literal('true');
      return true;
    }
    if (c === LETTER_F) {
      this.literal('false');
      return false;
    }
    if (c === LETTER_N) {
      this.literal('null');
      return null;
    }
    const start = this.at;
    this.skipNumber();
    return Number(this.text.slice(start, this.at));
  }

  /** A string member's value. */
  stringValue(): string {
    if (this.next() !== QUOTE) leave();
    return this.string();
  }
}
