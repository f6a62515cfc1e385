// node:test as tests/browser/test_protocol_library.py needs it in Chromium: test() with
// its options (skip), before() and after(). Tests are collected; run() runs them in order.

const collected = [];
const befores = [];
const afters = [];

export function test(name, options, fn) {
  if (typeof options === "function") [options, fn] = [{}, options];
  collected.push({ name, skip: options?.skip, fn });
}
export const before = (fn) => befores.push(fn);
export const after = (fn) => afters.push(fn);

/** Run what one test file registered: [{name, outcome: "pass"|"skip"|"fail", error}]. */
export async function run() {
  const results = [];
  const tests = collected.splice(0);
  try {
    for (const fn of befores.splice(0)) await fn();
    for (const { name, skip, fn } of tests) {
      if (skip) {
        results.push({ name, outcome: "skip", error: String(skip) });
        continue;
      }
      try {
        await fn();
        results.push({ name, outcome: "pass", error: "" });
      } catch (error) {
        results.push({ name, outcome: "fail", error: `${error?.name}: ${error?.message}\n${error?.stack}` });
      }
    }
  } finally {
    for (const fn of afters.splice(0)) await fn();
  }
  return results;
}
