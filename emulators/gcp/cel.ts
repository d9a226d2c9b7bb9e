/**
 * The subset of CEL (Common Expression Language) that Workload Identity Federation attribute
 * mappings and conditions use in practice: identifiers, `.field` and `["field"]` selection,
 * string/int/bool/null literals, lists, `==`, `!=`, `in`, `!`, `&&`, `||` and parentheses.
 *
 * Evaluation follows CEL's error semantics: selecting a missing field is an error, and `&&`/`||`
 * absorb an error when the other side already decides the result (`false && err` is false).
 */

/** A CEL value as produced from JSON claims and literals. */
export type CelValue = string | number | boolean | null | CelValue[] | { [key: string]: CelValue };

/** A parsed expression tree. */
export type CelExpr =
  | { kind: "literal"; value: CelValue }
  | { kind: "list"; items: CelExpr[] }
  | { kind: "ident"; name: string }
  | { kind: "select"; target: CelExpr; field: string }
  | { kind: "index"; target: CelExpr; index: CelExpr }
  | { kind: "not"; operand: CelExpr }
  | { kind: "binary"; op: "==" | "!=" | "in" | "&&" | "||"; left: CelExpr; right: CelExpr };

/** Outcome of evaluating an expression. */
export type CelResult = { ok: true; value: CelValue } | { ok: false; error: string };

/** Thrown for syntax errors, with the offending position. */
export class CelSyntaxError extends Error {
  override name = "CelSyntaxError";
}

type Token =
  | { type: "string"; value: string; pos: number }
  | { type: "number"; value: number; pos: number }
  | { type: "ident"; value: string; pos: number }
  | { type: "op"; value: string; pos: number }
  | { type: "end"; pos: number };

const OPERATORS = ["==", "!=", "&&", "||", "(", ")", "[", "]", ".", ",", "!"];

function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < source.length) {
    const ch = source[i]!;
    if (/\s/.test(ch)) {
      i++;
      continue;
    }
    if (ch === '"' || ch === "'") {
      const start = i;
      let value = "";
      i++;
      for (;;) {
        if (i >= source.length) throw new CelSyntaxError(`unterminated string at ${start}`);
        const c = source[i]!;
        if (c === ch) break;
        if (c === "\\") {
          const next = source[i + 1];
          const escapes: Record<string, string> = {
            n: "\n",
            t: "\t",
            r: "\r",
            "\\": "\\",
            '"': '"',
            "'": "'",
          };
          if (next === undefined || escapes[next] === undefined) {
            throw new CelSyntaxError(`unsupported escape at ${i}`);
          }
          value += escapes[next];
          i += 2;
          continue;
        }
        value += c;
        i++;
      }
      i++;
      tokens.push({ type: "string", value, pos: start });
      continue;
    }
    if (/[0-9]/.test(ch)) {
      const match = /^[0-9]+/.exec(source.slice(i))!;
      tokens.push({ type: "number", value: Number(match[0]), pos: i });
      i += match[0].length;
      continue;
    }
    if (/[A-Za-z_]/.test(ch)) {
      const match = /^[A-Za-z_][A-Za-z0-9_]*/.exec(source.slice(i))!;
      tokens.push({ type: "ident", value: match[0], pos: i });
      i += match[0].length;
      continue;
    }
    const op = OPERATORS.find((candidate) => source.startsWith(candidate, i));
    if (!op) throw new CelSyntaxError(`unexpected character '${ch}' at ${i}`);
    tokens.push({ type: "op", value: op, pos: i });
    i += op.length;
  }
  tokens.push({ type: "end", pos: source.length });
  return tokens;
}

/** Parses a CEL expression of the supported subset; throws CelSyntaxError. */
export function parseCel(source: string): CelExpr {
  const tokens = tokenize(source);
  let position = 0;
  const peek = (): Token => tokens[position]!;
  const isOp = (value: string): boolean => {
    const token = peek();
    return token.type === "op" && token.value === value;
  };
  const isKeyword = (value: string): boolean => {
    const token = peek();
    return token.type === "ident" && token.value === value;
  };
  const expectOp = (value: string): void => {
    if (!isOp(value)) throw new CelSyntaxError(`expected '${value}' at ${peek().pos}`);
    position++;
  };

  const parseOr = (): CelExpr => {
    let left = parseAnd();
    while (isOp("||")) {
      position++;
      left = { kind: "binary", op: "||", left, right: parseAnd() };
    }
    return left;
  };
  const parseAnd = (): CelExpr => {
    let left = parseRelation();
    while (isOp("&&")) {
      position++;
      left = { kind: "binary", op: "&&", left, right: parseRelation() };
    }
    return left;
  };
  const parseRelation = (): CelExpr => {
    let left = parseUnary();
    for (;;) {
      if (isOp("==") || isOp("!=")) {
        const op = (peek() as { value: "==" | "!=" }).value;
        position++;
        left = { kind: "binary", op, left, right: parseUnary() };
      } else if (isKeyword("in")) {
        position++;
        left = { kind: "binary", op: "in", left, right: parseUnary() };
      } else {
        return left;
      }
    }
  };
  const parseUnary = (): CelExpr => {
    if (isOp("!")) {
      position++;
      return { kind: "not", operand: parseUnary() };
    }
    return parseMember();
  };
  const parseMember = (): CelExpr => {
    let expr = parsePrimary();
    for (;;) {
      if (isOp(".")) {
        position++;
        const token = peek();
        if (token.type !== "ident") throw new CelSyntaxError(`expected field name at ${token.pos}`);
        position++;
        if (isOp("("))
          throw new CelSyntaxError(`function calls are not supported (at ${token.pos})`);
        expr = { kind: "select", target: expr, field: token.value };
      } else if (isOp("[")) {
        position++;
        const index = parseOr();
        expectOp("]");
        expr = { kind: "index", target: expr, index };
      } else {
        return expr;
      }
    }
  };
  const parsePrimary = (): CelExpr => {
    const token = peek();
    position++;
    switch (token.type) {
      case "string":
        return { kind: "literal", value: token.value };
      case "number":
        return { kind: "literal", value: token.value };
      case "ident":
        if (token.value === "true") return { kind: "literal", value: true };
        if (token.value === "false") return { kind: "literal", value: false };
        if (token.value === "null") return { kind: "literal", value: null };
        if (token.value === "in") throw new CelSyntaxError(`unexpected 'in' at ${token.pos}`);
        if (isOp("("))
          throw new CelSyntaxError(`function calls are not supported (at ${token.pos})`);
        return { kind: "ident", name: token.value };
      case "op":
        if (token.value === "(") {
          const inner = parseOr();
          expectOp(")");
          return inner;
        }
        if (token.value === "[") {
          const items: CelExpr[] = [];
          if (!isOp("]")) {
            items.push(parseOr());
            while (isOp(",")) {
              position++;
              if (isOp("]")) break;
              items.push(parseOr());
            }
          }
          expectOp("]");
          return { kind: "list", items };
        }
        throw new CelSyntaxError(`unexpected '${token.value}' at ${token.pos}`);
      case "end":
        throw new CelSyntaxError("unexpected end of expression");
    }
  };

  const expr = parseOr();
  if (peek().type !== "end") throw new CelSyntaxError(`unexpected input at ${peek().pos}`);
  return expr;
}

function isMap(value: CelValue): value is { [key: string]: CelValue } {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function celEquals(a: CelValue, b: CelValue): boolean {
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((item, i) => celEquals(item, b[i]!));
  }
  if (isMap(a) && isMap(b)) {
    const keys = Object.keys(a);
    return (
      keys.length === Object.keys(b).length && keys.every((k) => k in b && celEquals(a[k]!, b[k]!))
    );
  }
  // CEL's heterogeneous equality: values of different types are simply unequal.
  return a === b;
}

function select(target: CelValue, field: string): CelResult {
  if (!isMap(target)) return { ok: false, error: `cannot select '${field}' from a non-map value` };
  if (!Object.hasOwn(target, field)) return { ok: false, error: `no such key: ${field}` };
  return { ok: true, value: target[field]! };
}

/** Evaluates a parsed expression against named variables (e.g. `assertion`, `attribute`). */
export function evaluateCel(expr: CelExpr, variables: Record<string, CelValue>): CelResult {
  switch (expr.kind) {
    case "literal":
      return { ok: true, value: expr.value };
    case "list": {
      const values: CelValue[] = [];
      for (const item of expr.items) {
        const result = evaluateCel(item, variables);
        if (!result.ok) return result;
        values.push(result.value);
      }
      return { ok: true, value: values };
    }
    case "ident":
      if (!Object.hasOwn(variables, expr.name)) {
        return { ok: false, error: `undeclared reference to '${expr.name}'` };
      }
      return { ok: true, value: variables[expr.name]! };
    case "select": {
      const target = evaluateCel(expr.target, variables);
      return target.ok ? select(target.value, expr.field) : target;
    }
    case "index": {
      const target = evaluateCel(expr.target, variables);
      if (!target.ok) return target;
      const index = evaluateCel(expr.index, variables);
      if (!index.ok) return index;
      if (Array.isArray(target.value)) {
        const i = index.value;
        if (typeof i !== "number" || !Number.isInteger(i))
          return { ok: false, error: "list index must be an int" };
        if (i < 0 || i >= target.value.length)
          return { ok: false, error: `index out of range: ${i}` };
        return { ok: true, value: target.value[i]! };
      }
      if (typeof index.value !== "string") return { ok: false, error: "map key must be a string" };
      return select(target.value, index.value);
    }
    case "not": {
      const operand = evaluateCel(expr.operand, variables);
      if (!operand.ok) return operand;
      if (typeof operand.value !== "boolean")
        return { ok: false, error: "no matching overload for '!'" };
      return { ok: true, value: !operand.value };
    }
    case "binary":
      return evaluateBinary(expr.op, expr.left, expr.right, variables);
  }
}

function evaluateBinary(
  op: "==" | "!=" | "in" | "&&" | "||",
  leftExpr: CelExpr,
  rightExpr: CelExpr,
  variables: Record<string, CelValue>,
): CelResult {
  const left = evaluateCel(leftExpr, variables);
  const right = evaluateCel(rightExpr, variables);
  if (op === "&&" || op === "||") {
    const decisive = op === "||";
    const isBoolOrError = (r: CelResult) => !r.ok || typeof r.value === "boolean";
    if (!isBoolOrError(left) || !isBoolOrError(right)) {
      return { ok: false, error: `no matching overload for '${op}'` };
    }
    // Commutative short-circuit: a decisive side wins even if the other side is an error.
    if ((left.ok && left.value === decisive) || (right.ok && right.value === decisive)) {
      return { ok: true, value: decisive };
    }
    if (!left.ok) return left;
    if (!right.ok) return right;
    return { ok: true, value: !decisive };
  }
  if (!left.ok) return left;
  if (!right.ok) return right;
  switch (op) {
    case "==":
      return { ok: true, value: celEquals(left.value, right.value) };
    case "!=":
      return { ok: true, value: !celEquals(left.value, right.value) };
    case "in": {
      const container = right.value;
      if (Array.isArray(container)) {
        return { ok: true, value: container.some((item) => celEquals(item, left.value)) };
      }
      if (isMap(container) && typeof left.value === "string") {
        return { ok: true, value: Object.hasOwn(container, left.value) };
      }
      return { ok: false, error: "no matching overload for 'in'" };
    }
  }
}

/** Parses and evaluates in one step; syntax errors become evaluation errors. */
export function runCel(source: string, variables: Record<string, CelValue>): CelResult {
  let expr: CelExpr;
  try {
    expr = parseCel(source);
  } catch (error) {
    return { ok: false, error: error instanceof Error ? error.message : String(error) };
  }
  return evaluateCel(expr, variables);
}
