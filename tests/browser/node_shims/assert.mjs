// node:assert/strict as the tests of tests/web/ use it, for Chromium: equal, notEqual,
// deepEqual (strict), ok, match, doesNotMatch, throws, rejects, fail.

export class AssertionError extends Error {
  name = "AssertionError";
}

const fail = (message, fallback) => {
  throw message instanceof Error ? message : new AssertionError(message ?? fallback);
};

function same(a, b) {
  if (Object.is(a, b)) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== "object") return false;
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false;
  if (ArrayBuffer.isView(a)) {
    return a.length === b.length && a.every((value, i) => Object.is(value, b[i]));
  }
  if (a instanceof Map) {
    if (a.size !== b.size) return false;
    for (const [key, value] of a) if (!b.has(key) || !same(value, b.get(key))) return false;
    return true;
  }
  if (a instanceof Set) {
    if (a.size !== b.size) return false;
    for (const value of a) if (!b.has(value)) return false;
    return true;
  }
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  return keys.every((key) => Object.hasOwn(b, key) && same(a[key], b[key]));
}

const show = (value) => {
  try {
    return JSON.stringify(value, (_, v) => (typeof v === "bigint" ? `${v}n` : ArrayBuffer.isView(v) ? [...v] : v));
  } catch {
    return String(value);
  }
};

function check(error, expected, message) {
  if (expected === undefined || typeof expected === "string") return;
  if (expected instanceof RegExp) {
    if (!expected.test(String(error?.message ?? error)) && !expected.test(String(error))) {
      fail(message, `${error} does not match ${expected}`);
    }
  } else if (typeof expected === "function") {
    if (expected === Error || expected.prototype instanceof Error) {
      if (!(error instanceof expected)) fail(message, `${error} is not a ${expected.name}`);
    } else if (expected(error) !== true) {
      fail(message, `${error} was not accepted by the validation function`);
    }
  } else if (typeof expected === "object") {
    for (const [key, value] of Object.entries(expected)) {
      if (!same(error?.[key], value)) fail(message, `${error}: ${key} is not ${show(value)}`);
    }
  }
}

const assert = {
  ok: (value, message) => value || fail(message, `${show(value)} is not truthy`),
  equal: (a, b, message) => Object.is(a, b) || fail(message, `${show(a)} !== ${show(b)}`),
  notEqual: (a, b, message) => !Object.is(a, b) || fail(message, `${show(a)} === ${show(b)}`),
  deepEqual: (a, b, message) => same(a, b) || fail(message, `${show(a)} is not deeply ${show(b)}`),
  notDeepEqual: (a, b, message) => !same(a, b) || fail(message, `${show(a)} is deeply ${show(b)}`),
  match: (text, pattern, message) => pattern.test(text) || fail(message, `${text} does not match ${pattern}`),
  doesNotMatch: (text, pattern, message) => !pattern.test(text) || fail(message, `${text} matches ${pattern}`),
  fail: (message) => fail(message, "Failed"),
  throws(fn, expected, message) {
    try {
      fn();
    } catch (error) {
      check(error, expected, typeof expected === "string" ? expected : message);
      return;
    }
    fail(typeof expected === "string" ? expected : message, "Missing expected exception.");
  },
  async rejects(promise, expected, message) {
    try {
      await (typeof promise === "function" ? promise() : promise);
    } catch (error) {
      check(error, expected, typeof expected === "string" ? expected : message);
      return;
    }
    fail(typeof expected === "string" ? expected : message, "Missing expected rejection.");
  },
};
assert.strictEqual = assert.equal;
assert.deepStrictEqual = assert.deepEqual;
export default assert;
