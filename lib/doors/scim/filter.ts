// The SCIM 2.0 filter grammar (RFC 7644 §3.4.2.2) parsed into a tree: comparisons (eq ne co sw
// ew gt ge lt le), presence (pr), and / or / not with parentheses, and value paths such as
// emails[type eq "work" and value co "@example.com"]. Attribute names are case-insensitive and may
// carry their schema URI. Nothing here touches SQL: the store translates the tree into
// parameterised SQL, so a filter's text never reaches the database as text.
//
// Leniency, because real clients send it: a comparison value that is neither quoted nor a
// number/true/false/null is read as a string (Entra's test suite sends `meta.created gt 2015-10-10T14:38:21`
// and `userName sw O`). Everything else that does not parse is an `invalidFilter` error saying where.

export const COMPARE_OPS = ["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"] as const;
export type CompareOp = (typeof COMPARE_OPS)[number];

export type AttrPath = {
  /** Schema URN when the path was written fully qualified, lower-cased. */
  schema: string | null;
  /** Attribute name, lower-cased. */
  attr: string;
  /** Sub-attribute (name.familyName → "familyname"), lower-cased. */
  sub: string | null;
};

export type CompValue = string | number | boolean | null;

export type Filter =
  | { type: "and" | "or"; left: Filter; right: Filter }
  | { type: "not"; filter: Filter }
  | { type: "compare"; path: AttrPath; op: CompareOp; value: CompValue }
  | { type: "present"; path: AttrPath }
  | { type: "valuePath"; path: AttrPath; filter: Filter };

export class FilterError extends Error {
  readonly scimType = "invalidFilter";
  constructor(message: string) {
    super(message);
    this.name = "FilterError";
  }
}

export const MAX_FILTER_LENGTH = 4096;
const MAX_DEPTH = 32;

type Token =
  | { kind: "word"; text: string; at: number }
  | { kind: "string"; value: string; at: number }
  | { kind: "("; at: number }
  | { kind: ")"; at: number }
  | { kind: "["; at: number }
  | { kind: "]"; at: number };

function tokenize(input: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < input.length) {
    const c = input[i]!;
    if (c === " " || c === "\t" || c === "\n" || c === "\r") {
      i++;
    } else if (c === "(" || c === ")" || c === "[" || c === "]") {
      tokens.push({ kind: c, at: i });
      i++;
    } else if (c === '"') {
      // A JSON string: escapes as in JSON.
      let j = i + 1;
      while (j < input.length && input[j] !== '"') j += input[j] === "\\" ? 2 : 1;
      if (j >= input.length) throw new FilterError(`Unterminated string starting at position ${i + 1}.`);
      let value: string;
      try {
        value = JSON.parse(input.slice(i, j + 1)) as string;
      } catch {
        throw new FilterError(`Invalid escape in the string starting at position ${i + 1}.`);
      }
      tokens.push({ kind: "string", value, at: i });
      i = j + 1;
    } else {
      let j = i;
      while (j < input.length && !" \t\n\r()[]\"".includes(input[j]!)) j++;
      tokens.push({ kind: "word", text: input.slice(i, j), at: i });
      i = j;
    }
  }
  return tokens;
}

const ATTR_NAME = /^[A-Za-z$][A-Za-z0-9_$-]*$/;

export function parseAttrPath(text: string, at = 0): AttrPath {
  let schema: string | null = null;
  let rest = text;
  const colon = text.lastIndexOf(":");
  if (colon >= 0) {
    schema = text.slice(0, colon).toLowerCase();
    rest = text.slice(colon + 1);
    if (!schema.startsWith("urn:")) throw new FilterError(`"${text}" at position ${at + 1} is not an attribute path.`);
  }
  const parts = rest.split(".");
  if (parts.length > 2 || !parts.every((p) => ATTR_NAME.test(p))) {
    throw new FilterError(`"${text}" at position ${at + 1} is not an attribute path.`);
  }
  return { schema, attr: parts[0]!.toLowerCase(), sub: parts[1]?.toLowerCase() ?? null };
}

class Parser {
  private pos = 0;
  private depth = 0;
  constructor(private readonly tokens: Token[]) {}

  parse(): Filter {
    const filter = this.or();
    const extra = this.tokens[this.pos];
    if (extra) throw new FilterError(`Unexpected ${describe(extra)} at position ${extra.at + 1}.`);
    return filter;
  }

  private peekWord(word: string): boolean {
    const t = this.tokens[this.pos];
    return t?.kind === "word" && t.text.toLowerCase() === word;
  }

  private enter() {
    if (++this.depth > MAX_DEPTH) throw new FilterError(`The filter nests deeper than ${MAX_DEPTH} levels.`);
  }

  private or(): Filter {
    let left = this.and();
    while (this.peekWord("or")) {
      this.pos++;
      left = { type: "or", left, right: this.and() };
    }
    return left;
  }

  private and(): Filter {
    let left = this.unary();
    while (this.peekWord("and")) {
      this.pos++;
      left = { type: "and", left, right: this.unary() };
    }
    return left;
  }

  private unary(): Filter {
    this.enter();
    try {
      if (this.peekWord("not")) {
        this.pos++;
        const open = this.tokens[this.pos];
        if (open?.kind !== "(") throw new FilterError(`"not" must be followed by a parenthesised filter${open ? ` (position ${open.at + 1})` : ""}.`);
        return { type: "not", filter: this.group() };
      }
      const t = this.tokens[this.pos];
      if (!t) throw new FilterError("The filter ends where an expression was expected.");
      if (t.kind === "(") return this.group();
      if (t.kind !== "word") throw new FilterError(`Expected an attribute at position ${t.at + 1}, found ${describe(t)}.`);
      return this.attributeExpression();
    } finally {
      this.depth--;
    }
  }

  private group(): Filter {
    this.pos++; // "("
    const inner = this.or();
    const close = this.tokens[this.pos];
    if (close?.kind !== ")") throw new FilterError(close ? `Expected ")" at position ${close.at + 1}.` : 'Missing ")" at the end of the filter.');
    this.pos++;
    return inner;
  }

  private attributeExpression(): Filter {
    const t = this.tokens[this.pos] as Extract<Token, { kind: "word" }>;
    this.pos++;
    // emails[type eq "work"] — a value path, possibly followed by .sub (emails[type eq "work"].value).
    if (this.tokens[this.pos]?.kind === "[") {
      const path = parseAttrPath(t.text, t.at);
      if (path.sub) throw new FilterError(`A value filter applies to a multi-valued attribute, not to "${t.text}" (position ${t.at + 1}).`);
      this.pos++;
      const filter = this.or();
      const close = this.tokens[this.pos];
      if (close?.kind !== "]") throw new FilterError(close ? `Expected "]" at position ${close.at + 1}.` : 'Missing "]" at the end of the filter.');
      this.pos++;
      return { type: "valuePath", path, filter };
    }
    const path = parseAttrPath(t.text, t.at);
    const opToken = this.tokens[this.pos];
    if (opToken?.kind !== "word") throw new FilterError(`Expected an operator after "${t.text}" (position ${t.at + 1}).`);
    const op = opToken.text.toLowerCase();
    this.pos++;
    if (op === "pr") return { type: "present", path };
    if (!(COMPARE_OPS as readonly string[]).includes(op)) {
      throw new FilterError(`"${opToken.text}" at position ${opToken.at + 1} is not an operator (eq ne co sw ew gt ge lt le pr).`);
    }
    const v = this.tokens[this.pos];
    if (!v || (v.kind !== "string" && v.kind !== "word")) throw new FilterError(`Expected a value after "${opToken.text}" (position ${opToken.at + 1}).`);
    this.pos++;
    return { type: "compare", path, op: op as CompareOp, value: v.kind === "string" ? v.value : bareValue(v.text) };
  }
}

function bareValue(text: string): CompValue {
  const lower = text.toLowerCase();
  if (lower === "true") return true;
  if (lower === "false") return false;
  if (lower === "null") return null;
  if (/^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/.test(text)) return Number(text);
  return text;
}

function describe(t: Token): string {
  if (t.kind === "word") return `"${t.text}"`;
  if (t.kind === "string") return "a string";
  return `"${t.kind}"`;
}

/** Parses a SCIM filter; throws FilterError (→ 400 invalidFilter) saying what is wrong and where. */
export function parseFilter(input: string): Filter {
  if (input.length > MAX_FILTER_LENGTH) throw new FilterError(`The filter is longer than ${MAX_FILTER_LENGTH} characters.`);
  if (!input.trim()) throw new FilterError("The filter is empty.");
  return new Parser(tokenize(input)).parse();
}
