import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { CelSyntaxError, parseCel, runCel } from "./cel.ts";

const assertion = { sub: "ws_1", customer_id: "ws_1", groups: ["a", "b"], nested: { team: "x" } };
const vars = { assertion, attribute: { customer_id: "ws_1" }, google: { subject: "ws_1" } };
const value = (source: string) => runCel(source, vars);

describe("CEL subset", () => {
  test("equality, inequality, in, lists, boolean operators, negation and parentheses", () => {
    assert.deepEqual(value('assertion.customer_id == "ws_1"'), { ok: true, value: true });
    assert.deepEqual(value("assertion.customer_id != 'ws_1'"), { ok: true, value: false });
    assert.deepEqual(value('assertion.customer_id in ["ws_0", "ws_1",]'), {
      ok: true,
      value: true,
    });
    assert.deepEqual(value('"b" in assertion.groups && !("z" in assertion.groups)'), {
      ok: true,
      value: true,
    });
    assert.deepEqual(value('attribute.customer_id == "x" || google.subject == "ws_1"'), {
      ok: true,
      value: true,
    });
    assert.deepEqual(value('(true || false) && assertion["nested"].team == "x"'), {
      ok: true,
      value: true,
    });
    assert.deepEqual(value('"team" in assertion.nested'), { ok: true, value: true });
    assert.deepEqual(value("assertion.groups[1] == 'b'"), { ok: true, value: true });
    assert.deepEqual(
      value('assertion.sub == "ws_1" && assertion.customer_id == "ws_1" && 1 == 1'),
      { ok: true, value: true },
    );
    assert.deepEqual(value('"a\\"b" == \'a"b\''), { ok: true, value: true });
  });

  test("heterogeneous equality is false, not an error", () => {
    assert.deepEqual(value("assertion.sub == 1"), { ok: true, value: false });
  });

  test("missing fields are errors, absorbed only when the other side decides", () => {
    assert.equal(value('assertion.missing == "x"').ok, false);
    assert.deepEqual(value('assertion.missing == "x" || true'), { ok: true, value: true });
    assert.deepEqual(value('false && assertion.missing == "x"'), { ok: true, value: false });
    assert.equal(value('true && assertion.missing == "x"').ok, false);
    assert.equal(value("unknown_var").ok, false);
    assert.equal(value('"a" && true').ok, false);
  });

  test("syntax errors", () => {
    for (const bad of [
      "assertion.",
      "a ==",
      "(a",
      "[1, 2",
      "a.startsWith('x')",
      "f(1)",
      "a = b",
      "'open",
      "a in",
    ]) {
      assert.throws(() => parseCel(bad), CelSyntaxError, bad);
    }
    assert.equal(runCel("a ==", {}).ok, false);
  });
});
