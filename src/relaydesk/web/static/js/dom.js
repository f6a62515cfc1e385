// Small DOM helpers shared by the pages. Text from people or the network only ever
// goes in as textContent (or text nodes), never as HTML.

export const $ = (id) => document.getElementById(id);

/**
 * A new element: `el("button", {className: "x", text: "Go", type: "button"}, ...children)`.
 * `text` sets textContent; other keys set attributes (`className`, `hidden` and
 * `disabled` set the properties).
 */
export function el(tag, options = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(options)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "text") node.textContent = String(value);
    else if (key === "className") node.className = value;
    else if (key === "hidden" || key === "disabled") node[key] = Boolean(value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  node.append(...children.filter((child) => child !== null && child !== undefined));
  return node;
}

// The top-level views: exactly one shows at a time.
const VIEWS = [
  "join-view", "waiting-view", "final-view", "login-view", "reset-view", "console-view", "session-view",
];

export function showView(id) {
  for (const view of VIEWS) $(view).hidden = view !== id;
}

/** "123456789" -> "123 456 789". */
export function formatId(id) {
  return `${id.slice(0, 3)} ${id.slice(3, 6)} ${id.slice(6)}`;
}

/** A session ID as typed (spaces, dashes) -> its 9 digits, or "" if it is not one. */
export function normalizeId(text) {
  const digits = text.replace(/[\s-]/g, "");
  return /^\d{9}$/.test(digits) ? digits : "";
}

/**
 * Put `text` on the clipboard; `button` says "Copied" for a moment. Falls back to
 * selecting `field` and the old copy command where the Clipboard API is refused.
 */
export async function copyText(text, button, field = null) {
  let done = false;
  try {
    await navigator.clipboard.writeText(text);
    done = true;
  } catch {
    if (field) {
      field.focus();
      field.select();
      done = document.execCommand("copy");
    }
  }
  const label = button.dataset.label ?? button.textContent;
  button.dataset.label = label;
  button.textContent = done ? "Copied" : "Press Ctrl+C to copy";
  clearTimeout(button.copyTimer);
  button.copyTimer = setTimeout(() => { button.textContent = label; }, 2500);
  return done;
}

/** The same one-line status in the header bar, for every view. */
export function setStatus({ text, connected }) {
  $("status").textContent = text;
  $("status").classList.toggle("connected", Boolean(connected));
}
