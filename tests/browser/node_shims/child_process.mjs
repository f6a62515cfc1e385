// node:child_process for Chromium: spawn() of tests/web/interop_peer.py is the same peer
// run by the test's own Python process (Playwright's exposed function interopPeer): one
// JSON request per line in, one JSON answer per line out, as through the pipes.

export function spawn() {
  const answers = [];
  const waiting = [];
  const deliver = (line) => (waiting.length ? waiting.shift()(line) : answers.push(line));
  const stdout = {
    [Symbol.asyncIterator]() {
      return {
        next: () =>
          answers.length
            ? Promise.resolve({ value: answers.shift(), done: false })
            : new Promise((resolve) => waiting.push((value) => resolve({ value, done: false }))),
      };
    },
  };
  let exited = null;
  return {
    stdout,
    stdin: {
      write: (line) => globalThis.interopPeer(line).then(deliver),
      end: () => exited?.(),
    },
    once: (event, fn) => {
      if (event === "exit") exited = fn;
    },
  };
}
export default { spawn };
