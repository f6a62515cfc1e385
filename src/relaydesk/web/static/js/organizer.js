// The organizer's console (/host): sign-in (with the one-time code when the account has
// two-step login), the account (sign out, two-step login on and off), "Start a meeting"
// with its settings, then the meeting itself as its host.
//
// The token is only ever in the HttpOnly cookie the broker sets: the page never reads
// or stores it (no localStorage, no sessionStorage); requests carry it as same-origin
// credentials. A 401 from any organizer request brings the sign-in back.

import { ApiError, api, onUnauthorized } from "./api.js";
import { $, copyText, el, formatId, normalizeId, setStatus, showView } from "./dom.js";
import { openMeeting } from "./meeting.js";
import { JoinError, SessionLink } from "./session.js";

const NEEDS_CODE = /one-time code/i; // "This account needs its one-time code."
const EXPIRED = "Your sign-in has ended or expired. Sign in again to go on.";
const MAX_TIMER_MS = 2 ** 31 - 1;

let account = null; // {username, expires_at, totp_enabled, is_admin} while signed in
let policy = {}; // the site policy (GET /api/policy): what the start form cannot change
let expiryTimer = 0;
let inMeeting = false;
let qrUrl = "";
const created = []; // meetings created in this page for later: {answer, password, name}

// Signing in and out --------------------------------------------------------------------

function showLogin(notice = "") {
  account = null;
  clearTimeout(expiryTimer);
  $("account-bar").hidden = true;
  $("login-notice").textContent = notice;
  $("login-notice").hidden = !notice;
  $("login-error").textContent = "";
  $("login-password").value = "";
  $("login-code").value = "";
  $("login-code-row").hidden = true;
  $("login-submit").disabled = false;
  document.title = "Organizer sign-in — relaydesk";
  setStatus({ text: "" });
  showView("login-view");
  $($("login-username").value ? "login-password" : "login-username").focus();
}

async function onLogin(event) {
  event.preventDefault();
  const username = $("login-username").value.trim();
  const password = $("login-password").value;
  const code = $("login-code").value.replace(/\s/g, "");
  $("login-error").textContent = "";
  if (!username || !password) {
    $("login-error").textContent = "Please enter your username and password.";
    $(username ? "login-password" : "login-username").focus();
    return;
  }
  const body = { username, password };
  if (!$("login-code-row").hidden && code) body.one_time_code = code;
  $("login-submit").disabled = true;
  try {
    const me = await api("POST", "/api/web/login", body);
    if (goBackToJoin()) return;
    showConsole(me);
  } catch (error) {
    $("login-submit").disabled = false;
    if (error instanceof ApiError && error.status === 401 && NEEDS_CODE.test(error.message)) {
      const asked = !$("login-code-row").hidden;
      $("login-code-row").hidden = false;
      $("login-notice").textContent = error.message;
      $("login-notice").hidden = false;
      if (asked && code) $("login-error").textContent = error.message;
      $("login-code").focus();
      return;
    }
    $("login-error").textContent = error.message;
    if (!$("login-code-row").hidden) {
      $("login-code").value = "";
      $("login-code").focus();
    } else {
      $("login-password").select();
    }
  }
}

async function onLogout() {
  try {
    await api("POST", "/api/web/logout");
  } catch {
    // signed out anyway as far as this page goes; the cookie expires by itself
  }
  showLogin("You signed out.");
}

function expired() {
  if (inMeeting) {
    account = null; // the meeting goes on; the console asks again afterwards
    return;
  }
  showLogin(EXPIRED);
}

function armExpiry(expiresAt) {
  clearTimeout(expiryTimer);
  const at = Date.parse(expiresAt);
  if (!Number.isFinite(at)) return;
  expiryTimer = setTimeout(expired, Math.min(MAX_TIMER_MS, Math.max(0, at - Date.now())));
}

/** Sent here from a join page that needs an account (/host?next=/j/ID): back there. */
function goBackToJoin() {
  const next = new URLSearchParams(location.search).get("next") ?? "";
  if (!/^\/j\/\d{9}$/.test(next)) return false;
  location.assign(next);
  return true;
}

// A forgotten password (docs/operators.md "Password resets") -----------------------------

function showReset() {
  for (const id of ["reset-ask-error", "reset-set-error"]) $(id).textContent = "";
  $("reset-ask-done").hidden = true;
  const name = $("login-username").value.trim();
  $("reset-ask-username").value = name;
  $("reset-username").value = name;
  document.title = "Forgot your password? — relaydesk";
  showView("reset-view");
  $("reset-ask-username").focus();
}

async function onResetAsk(event) {
  event.preventDefault();
  const username = $("reset-ask-username").value.trim();
  $("reset-ask-error").textContent = "";
  $("reset-ask-done").hidden = true;
  if (!username) {
    $("reset-ask-error").textContent = "Please enter your account name (your username).";
    $("reset-ask-username").focus();
    return;
  }
  $("reset-ask").disabled = true;
  try {
    const answer = await api("POST", "/api/password-resets", { username });
    $("reset-ask-done").textContent = answer?.detail ?? "Asked.";
    $("reset-ask-done").hidden = false;
    $("reset-username").value = username;
    $("reset-code").focus();
  } catch (error) {
    $("reset-ask-error").textContent = error.message;
  } finally {
    $("reset-ask").disabled = false;
  }
}

async function onResetSet(event) {
  event.preventDefault();
  const username = $("reset-username").value.trim();
  const code = $("reset-code").value.trim();
  const password = $("reset-password").value;
  $("reset-set-error").textContent = "";
  const missing = [["reset-username", username], ["reset-code", code], ["reset-password", password]]
    .find(([, value]) => !value);
  if (missing) {
    $("reset-set-error").textContent = "Please fill in your account name, the code and the new password.";
    $(missing[0]).focus();
    return;
  }
  if (password !== $("reset-password-again").value) {
    $("reset-set-error").textContent = "The two passwords differ.";
    $("reset-password-again").select();
    return;
  }
  $("reset-set").disabled = true;
  try {
    await api("POST", "/api/password-resets/complete", { username, code, new_password: password });
  } catch (error) {
    $("reset-set-error").textContent = error.message;
    (/rule:/.test(error.message) ? $("reset-password") : $("reset-code")).focus();
    return;
  } finally {
    $("reset-set").disabled = false;
  }
  for (const id of ["reset-code", "reset-password", "reset-password-again"]) $(id).value = "";
  $("login-username").value = username;
  showLogin("Your password was changed. Sign in with it.");
}

// The console ---------------------------------------------------------------------------

function showConsole(me) {
  account = me;
  armExpiry(me.expires_at);
  $("account-name").textContent = me.username;
  $("account-bar").hidden = false;
  const until = new Date(me.expires_at);
  const when = Number.isNaN(until.getTime())
    ? "" : ` until ${until.toLocaleString([], { dateStyle: "medium", timeStyle: "short" })}`;
  $("account-line").textContent = `Signed in as ${me.username}${when}.`;
  if (!$("start-name").value) $("start-name").value = me.username;
  showTotpState();
  showPolicy();
  document.title = "Start a meeting — relaydesk";
  setStatus({ text: "" });
  showView("console-view");
  $("start-title").focus();
}

function showTotpState() {
  const on = Boolean(account?.totp_enabled);
  $("totp-state").textContent = on
    ? "On: signing in asks for a code from your authenticator app."
    : "Off: your password alone signs you in.";
  $("totp-state").className = on ? "state ok" : "state";
  $("totp-enable").hidden = on;
  $("totp-disable-start").hidden = !on;
  $("totp-enrol").hidden = true;
  $("totp-disable-form").hidden = true;
  $("totp-error").textContent = "";
}

function forgetQr() {
  if (qrUrl) URL.revokeObjectURL(qrUrl);
  qrUrl = "";
  $("totp-qr").removeAttribute("src");
  $("totp-secret").textContent = "";
}

async function onTotpEnable() {
  $("totp-error").textContent = "";
  $("totp-enable").disabled = true;
  let pending;
  try {
    pending = await api("POST", "/api/me/totp", {}, { organizer: true });
  } catch (error) {
    $("totp-error").textContent = error.message;
    return;
  } finally {
    $("totp-enable").disabled = false;
  }
  forgetQr();
  // The server's SVG, shown as an image from a blob: URL (never put into the page).
  qrUrl = URL.createObjectURL(new Blob([pending.qr_svg], { type: "image/svg+xml" }));
  $("totp-qr").src = qrUrl;
  $("totp-secret").textContent = String(pending.secret).replace(/(.{4})(?=.)/g, "$1 ");
  $("totp-code").value = "";
  $("totp-enable").hidden = true;
  $("totp-enrol").hidden = false;
  $("totp-code").focus();
}

async function onTotpConfirm(event) {
  event.preventDefault();
  const code = $("totp-code").value.replace(/\s/g, "");
  $("totp-error").textContent = "";
  if (!/^\d{6}$/.test(code)) {
    $("totp-error").textContent = "Type the 6 digits your app shows.";
    $("totp-code").focus();
    return;
  }
  $("totp-confirm").disabled = true;
  let answer;
  try {
    answer = await api("POST", "/api/me/totp/confirm", { code }, { organizer: true });
  } catch (error) {
    $("totp-error").textContent = error.message;
    $("totp-code").select();
    return;
  } finally {
    $("totp-confirm").disabled = false;
  }
  forgetQr();
  account.totp_enabled = true;
  const codes = Array.isArray(answer?.recovery_codes) ? answer.recovery_codes.map(String) : [];
  $("recovery-codes").replaceChildren(...codes.map((c) => el("li", { text: c })));
  $("recovery-copy").dataset.codes = codes.join("\n");
  $("totp-enrol").hidden = true;
  $("totp-recovery").hidden = false;
  $("totp-state").textContent = "On: signing in asks for a code from your authenticator app.";
  $("totp-state").className = "state ok";
  $("recovery-done").focus();
}

function onRecoveryDone() {
  $("recovery-codes").replaceChildren(); // shown once: gone from the page
  delete $("recovery-copy").dataset.codes;
  $("totp-recovery").hidden = true;
  showTotpState();
}

async function onTotpDisable(event) {
  event.preventDefault();
  const code = $("totp-disable-code").value.replace(/\s/g, "");
  $("totp-error").textContent = "";
  if (!code) {
    $("totp-error").textContent = "Type a code from your app, or a recovery code.";
    $("totp-disable-code").focus();
    return;
  }
  $("totp-disable").disabled = true;
  try {
    await api("POST", "/api/me/totp/disable", { code }, { organizer: true });
  } catch (error) {
    $("totp-error").textContent = error.message;
    $("totp-disable-code").select();
    return;
  } finally {
    $("totp-disable").disabled = false;
  }
  account.totp_enabled = false;
  $("totp-disable-code").value = "";
  showTotpState();
}

// Starting a meeting ----------------------------------------------------------------------

const FORCED = [
  // [the policy's rule, the setting's checkbox, the value it forces, why]
  ["all_unlisted", "start-listed", false, "Off: this server keeps every meeting unlisted."],
  ["require_attendee_email", "start-require-email", true, "On: this server asks everyone for one."],
];

/** What the site's administrator decided shows on the start form: forced settings are
 * set and cannot be changed, and the rules are said (the broker enforces them anyway). */
async function showPolicy() {
  try {
    policy = (await api("GET", "/api/policy")) ?? {};
  } catch {
    policy = {}; // an older server: no policy; the broker still has the last word
  }
  applyPolicy();
}

function applyPolicy() {
  for (const [rule, id, value, why] of FORCED) {
    const box = $(id);
    const forced = Boolean(policy[rule]);
    box.disabled = forced;
    if (forced) box.checked = value;
    const hint = box.parentElement.querySelector("small.forced");
    if (forced && !hint) {
      box.parentElement.querySelector("div").append(el("small", { className: "forced", text: why }));
    } else if (!forced && hint) {
      hint.remove();
    }
  }
  const needsPassword = Boolean(policy.require_session_password);
  $("start-password").required = needsPassword;
  $("start-password-note").textContent = needsPassword ? "(required on this server)" : "(optional)";
  const least = Number(policy.min_session_password_chars || 0);
  $("start-password-hint").textContent = least > 0
    ? `People joining must type it. At least ${least} characters.`
    : "People joining must type it.";
  const lines = [];
  if (policy.disable_sharing) lines.push("Desktop sharing is turned off on this server by its administrator.");
  if (policy.disable_control) lines.push("Remote control is turned off on this server by its administrator.");
  if (policy.restricted_access) lines.push("Only people with an account on this server can join.");
  $("start-policy").textContent = lines.join(" ");
  $("start-policy").hidden = lines.length === 0;
}

function settingsFromForm() {
  return {
    lobby: $("start-lobby").checked,
    join_before_host: $("start-join-before-host").checked,
    require_email: $("start-require-email").checked,
    listed: $("start-listed").checked,
    two_party: $("start-two-party").checked,
  };
}

function idError(text) {
  $("start-id-error").textContent = text;
  if (text) {
    $("start-id").setAttribute("aria-invalid", "true");
    $("start-id").focus();
  } else {
    $("start-id").removeAttribute("aria-invalid");
  }
}

async function createMeeting(now) {
  $("start-error").textContent = "";
  idError("");
  const typedId = $("start-id").value.trim();
  const sessionId = typedId ? normalizeId(typedId) : "";
  if (typedId && (!sessionId || sessionId.startsWith("0"))) {
    idError("A meeting ID has 9 digits and does not start with 0; or leave it empty.");
    return;
  }
  const name = $("start-name").value.trim();
  if (!name) {
    $("start-error").textContent = "Please enter the name the others will see.";
    $("start-name").focus();
    return;
  }
  const title = $("start-title").value.trim();
  const password = $("start-password").value;
  if (!password && policy.require_session_password) {
    $("start-error").textContent = "This server requires a password for every meeting: choose one.";
    $("start-password").focus();
    return;
  }
  const settings = settingsFromForm();
  const body = { ...settings };
  if (sessionId) body.session_id = sessionId;
  if (password) body.password = password;
  if (title) body.title = title;
  for (const id of ["start-now", "start-later"]) $(id).disabled = true;
  let answer;
  try {
    answer = await api("POST", "/api/sessions", body, { organizer: true });
  } catch (error) {
    if (error.status === 401) return; // the sign-in comes back
    if (error.status === 409 || /session_id|session id|meeting id/i.test(error.message)) {
      idError(error.message);
    } else {
      $("start-error").textContent = error.message;
    }
    return;
  } finally {
    for (const id of ["start-now", "start-later"]) $(id).disabled = false;
  }
  const meeting = { answer, password, name, title, settings: answer.settings ?? settings };
  if (now) {
    await joinAsHost(meeting, $("start-error"));
  } else {
    created.unshift(meeting);
    showCreated();
    $("start-form").reset();
    $("start-name").value = name;
    applyPolicy(); // a reset form shows the forced settings again
  }
}

function showCreated() {
  $("created-panel").hidden = created.length === 0;
  $("created").replaceChildren(...created.map((meeting) => {
    const id = meeting.answer.session_id;
    const label = meeting.title || `Session ${formatId(id)}`;
    const invite = el("input", { readonly: true, value: meeting.answer.invite_url,
      "aria-label": `Invite link of ${label}` });
    invite.value = meeting.answer.invite_url;
    const copy = el("button", { type: "button", className: "secondary", text: "Copy link",
      "aria-label": `Copy the invite link of ${label}` });
    copy.addEventListener("click", () => copyText(meeting.answer.invite_url, copy, invite));
    const error = el("p", { className: "error" });
    const join = el("button", { type: "button", text: "Join as host",
      "aria-label": `Join ${label} as host` });
    join.addEventListener("click", async () => {
      join.disabled = true;
      await joinAsHost(meeting, error);
      join.disabled = false;
    });
    return el("li", { className: "created-item" },
      el("div", { className: "created-head" },
        el("span", { className: "listed-title", text: label }),
        el("span", { className: "mono", text: formatId(id) })),
      el("div", { className: "copy-row" }, invite, copy),
      el("div", { className: "buttons" }, join),
      error);
  }));
}

async function joinAsHost(meeting, errorLine) {
  const { answer } = meeting;
  errorLine.textContent = "";
  const link = new SessionLink();
  link.addEventListener("status", (e) => setStatus(e.detail));
  try {
    // The cookie goes with the join request: the broker makes its organizer host.
    await link.join(answer.session_id, meeting.name, meeting.password);
  } catch (failure) {
    errorLine.textContent = failure instanceof JoinError ? failure.message : `Could not join: ${failure}`;
    setStatus({ text: "Not connected" });
    return;
  }
  inMeeting = true;
  $("account-bar").hidden = true;
  link.addEventListener("ended", () => { inMeeting = false; });
  openMeeting(link, {
    inviteUrl: answer.invite_url,
    title: meeting.title,
    settings: meeting.settings,
    againHref: "/host",
    againText: "Back to the console",
  });
}

// The page ---------------------------------------------------------------------------------

export async function startOrganizer() {
  document.title = "relaydesk — organizer";
  onUnauthorized(expired);
  $("login-form").addEventListener("submit", onLogin);
  $("logout").addEventListener("click", onLogout);
  $("totp-enable").addEventListener("click", onTotpEnable);
  $("totp-confirm-form").addEventListener("submit", onTotpConfirm);
  $("totp-cancel").addEventListener("click", () => { forgetQr(); showTotpState(); });
  $("recovery-copy").addEventListener("click", () => {
    copyText($("recovery-copy").dataset.codes ?? "", $("recovery-copy"));
  });
  $("recovery-done").addEventListener("click", onRecoveryDone);
  $("totp-disable-start").addEventListener("click", () => {
    $("totp-disable-start").hidden = true;
    $("totp-disable-form").hidden = false;
    $("totp-disable-code").focus();
  });
  $("totp-disable-form").addEventListener("submit", onTotpDisable);
  $("start-form").addEventListener("submit", (event) => {
    event.preventDefault();
    createMeeting(true);
  });
  $("start-later").addEventListener("click", () => createMeeting(false));
  $("start-id").addEventListener("input", () => idError(""));
  $("forgot").addEventListener("click", showReset);
  $("reset-back").addEventListener("click", () => showLogin());
  $("reset-ask-form").addEventListener("submit", onResetAsk);
  $("reset-set-form").addEventListener("submit", onResetSet);
  try {
    const me = await api("GET", "/api/me");
    if (goBackToJoin()) return;
    showConsole(me);
  } catch (error) {
    showLogin(error.status === 401 || error.status === 404 ? "" : error.message);
  }
}
