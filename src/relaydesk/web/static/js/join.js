// The join page (/j, /j/ID): the join form (with an optional e-mail address) and the
// meetings listed on this server; then the meeting.

import { api } from "./api.js";
import { $, el, formatId, normalizeId, setStatus, showView } from "./dom.js";
import { openMeeting } from "./meeting.js";
import { JoinError, SessionLink } from "./session.js";

const EMAIL_REQUIRED = 400; // the broker's answer when the session asks for an e-mail
const ACCOUNT_NEEDED = /restricted_access/; // the broker's 401 when joining needs an account

function sessionIdFromPath() {
  const match = location.pathname.match(/^\/j\/(\d{3})\s*(\d{3})\s*(\d{3})\/?$/);
  return match ? match.slice(1).join("") : "";
}

function plausibleEmail(text) {
  return /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(text);
}

async function onJoin(event) {
  event.preventDefault();
  const error = $("join-error");
  const sessionId = normalizeId($("session-id").value);
  const name = $("name").value.trim();
  const email = $("email").value.trim();
  error.textContent = "";
  for (const id of ["session-id", "name", "email"]) $(id).removeAttribute("aria-invalid");
  if (!sessionId) {
    error.textContent = "A session ID has 9 digits, like 123 456 789.";
    $("session-id").setAttribute("aria-invalid", "true");
    $("session-id").focus();
    return;
  }
  if (!name) {
    error.textContent = "Please enter your name.";
    $("name").setAttribute("aria-invalid", "true");
    $("name").focus();
    return;
  }
  if (email && !plausibleEmail(email)) {
    error.textContent = "That does not look like an e-mail address.";
    $("email").setAttribute("aria-invalid", "true");
    $("email").focus();
    return;
  }
  $("join").disabled = true;
  const link = new SessionLink();
  link.addEventListener("status", (e) => setStatus(e.detail));
  try {
    await link.join(sessionId, name, $("password").value, { email });
  } catch (failure) {
    error.textContent = failure instanceof JoinError ? failure.message : `Could not join: ${failure}`;
    if (failure instanceof JoinError && failure.status === 401 && ACCOUNT_NEEDED.test(failure.message)) {
      showSignIn(sessionId);
    }
    if (failure instanceof JoinError && failure.status === EMAIL_REQUIRED && /e-mail/i.test(failure.message)) {
      if (/asks for/i.test(failure.message)) {
        $("email-note").textContent = "(required for this session)";
        $("email").required = true;
      }
      $("email").setAttribute("aria-invalid", "true");
      $("email").focus();
    }
    $("join").disabled = false;
    setStatus({ text: "Not connected" });
    return;
  }
  history.replaceState(null, "", `/j/${sessionId}`);
  openMeeting(link, { title: link.title || listedTitles.get(sessionId) });
}

const listedTitles = new Map(); // session ID -> title, from the listed meetings

/** The meetings this server lists, as buttons that fill in the session ID. */
async function showListed() {
  let listed;
  try {
    listed = await api("GET", "/api/sessions/listed");
  } catch {
    return; // nothing listed to show (an older server, or the network)
  }
  if (!Array.isArray(listed) || listed.length === 0) return;
  const items = listed.filter((m) => typeof m?.session_id === "string").map((meeting) => {
    const id = normalizeId(meeting.session_id);
    if (!id) return null;
    const title = typeof meeting.title === "string" && meeting.title ? meeting.title : `Session ${formatId(id)}`;
    listedTitles.set(id, title);
    const details = [formatId(id)];
    if (typeof meeting.host === "string" && meeting.host) details.unshift(`hosted by ${meeting.host}`);
    const button = el("button", { type: "button", className: "listed-item" },
      el("span", { className: "listed-title", text: title }),
      el("span", { className: "listed-details", text: details.join(" · ") }));
    button.addEventListener("click", () => {
      $("session-id").value = formatId(id);
      for (const other of $("listed").querySelectorAll("button")) other.removeAttribute("aria-current");
      button.setAttribute("aria-current", "true");
      $(($("name").value.trim() ? "password" : "name")).focus();
    });
    return el("li", {}, button);
  }).filter(Boolean);
  if (items.length === 0) return;
  $("listed").replaceChildren(...items);
  $("listed-view").hidden = false;
}

/** The sign-in link, back to this meeting's join page once signed in. */
function showSignIn(sessionId) {
  const next = sessionId ? `?next=${encodeURIComponent(`/j/${sessionId}`)}` : "";
  $("join-signin-link").href = `/host${next}`;
  $("join-signin").hidden = false;
}

/** What the site's policy asks of whoever joins, said before they try. */
async function showPolicy(sessionId) {
  let policy;
  try {
    policy = await api("GET", "/api/policy");
  } catch {
    return; // an older server, or the network: the broker still says it when joining
  }
  const lines = [];
  if (policy?.restricted_access) {
    lines.push("Only people with an account on this server can join: sign in first.");
    showSignIn(sessionId);
  }
  if (policy?.require_attendee_email) {
    $("email-note").textContent = "(required on this server)";
    $("email").required = true;
  }
  $("join-policy").textContent = lines.join(" ");
  $("join-policy").hidden = lines.length === 0;
}

export function startJoinPage() {
  showView("join-view");
  const sessionId = sessionIdFromPath();
  if (sessionId) $("session-id").value = formatId(sessionId);
  $(sessionId ? "name" : "session-id").focus();
  $("join-form").addEventListener("submit", onJoin);
  showPolicy(sessionId);
  if (!sessionId) showListed(); // an invite names its meeting already
}
