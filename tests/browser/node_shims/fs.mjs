// node:fs for Chromium: files of the repository, read from the page's own origin (the
// test serves the repository there) with synchronous requests, as the tests read them.

function fetchSync(path, method = "GET") {
  const request = new XMLHttpRequest();
  request.open(method, path.startsWith("/") ? path : `/${path}`, false);
  request.send();
  return request;
}

export function readFileSync(path) {
  const request = fetchSync(path);
  if (request.status !== 200) throw new Error(`ENOENT: ${path}`);
  return request.responseText;
}

export const existsSync = (path) => fetchSync(path, "HEAD").status === 200;
export default { readFileSync, existsSync };
