// node:path for Chromium: POSIX joining of the repository's paths (the page's origin is
// the repository's root, "/").

export function join(...parts) {
  const out = [];
  for (const segment of parts.join("/").split("/")) {
    if (segment === "..") out.pop();
    else if (segment && segment !== ".") out.push(segment);
  }
  return `/${out.join("/")}`;
}
export const resolve = join;
export const dirname = (path) => join(path, "..");
export default { join, resolve, dirname };
