// node:url for Chromium: a module's URL on the page's origin is its path in the repository.

export const fileURLToPath = (url) => new URL(url).pathname;
export default { fileURLToPath };
