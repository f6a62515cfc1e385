// The page: the join form, then the shared screen, participants, security code and chat.
// Everything people or the network say is shown with textContent, never as HTML.

import { RemoteControl } from "./control.js";
import { ConsentKind, ConsentResult, RevokeReason } from "./protocol/index.js";
import { ScreenCanvas, TileError } from "./screen.js";
import { JoinError, SessionLink } from "./session.js";

const $ = (id) => document.getElementById(id);
const ROLE_NAMES = { 1: "Host", 2: "Participant" };

function sessionIdFromPath() {
  const match = location.pathname.match(/^\/j\/(\d{3})\s*(\d{3})\s*(\d{3})\/?$/);
  return match ? match.slice(1).join("") : "";
}

function formatId(id) {
  return `${id.slice(0, 3)} ${id.slice(3, 6)} ${id.slice(6)}`;
}

function setStatus({ text, connected }) {
  $("status").textContent = text;
  $("status").classList.toggle("connected", Boolean(connected));
}

function addChatLine(name, text, kind = "") {
  const log = $("chat-log");
  const line = document.createElement("p");
  if (kind) line.className = kind;
  if (name) {
    const from = document.createElement("span");
    from.className = "from";
    from.textContent = `${name}: `;
    line.append(from);
  }
  line.append(document.createTextNode(text));
  log.append(line);
  log.scrollTop = log.scrollHeight;
}

function showRoster(link) {
  const list = $("roster");
  list.replaceChildren();
  for (const [memberId, name] of [...link.names].sort((a, b) => a[0] - b[0])) {
    if (!link.roles.has(memberId)) continue; // left
    const item = document.createElement("li");
    const who = document.createElement("span");
    who.textContent = memberId === link.memberId ? `${name} (you)` : name;
    const role = document.createElement("span");
    role.className = "role";
    const parts = [ROLE_NAMES[link.roles.get(memberId)] ?? "Member"];
    if (memberId === link.presenter) parts.push("presenting");
    if (memberId === link.controlHolder) parts.push("in control");
    role.textContent = parts.join(", ");
    item.append(who, role);
    list.append(item);
  }
  const presenter = link.names.get(link.presenter);
  $("presenter-line").textContent = presenter
    ? `${presenter} is presenting`
    : "Nobody is presenting right now";
  showControlButton(link);
}

// The one button for remote control: ask, wait, give back, or see who has it.
function showControlButton(link) {
  const button = $("control");
  const presenting = link.presenter !== 0 && link.presenter !== link.memberId;
  button.hidden = !presenting;
  const holder = link.names.get(link.controlHolder);
  if (link.inControl) {
    button.textContent = "Give back control";
    button.disabled = false;
  } else if (link.controlHolder) {
    button.textContent = `${holder ?? "Someone"} has control`;
    button.disabled = true;
  } else if (link.controlRequested) {
    button.textContent = "Waiting for an answer…";
    button.disabled = true;
  } else {
    button.textContent = "Request control";
    button.disabled = false;
  }
}

const RESULTS = {
  [ConsentResult.GRANTED]: "said yes",
  [ConsentResult.DENIED]: "said no",
  [ConsentResult.TIMED_OUT]: "did not answer (that is a no)",
  [ConsentResult.CANCELLED]: "was not asked after all",
};

function consentLine(link, { kind, askedBy, subject, result }) {
  const name = (id) => (id === link.memberId ? "you" : link.names.get(id) ?? `member ${id}`);
  const asked = kind === ConsentKind.CONTROL ? "for remote control" : "to present";
  const who = name(subject);
  return `${who[0].toUpperCase()}${who.slice(1)} ${RESULTS[result]}: ${name(askedBy)} asked ${asked}.`;
}

const CONTROL_ENDED = {
  [RevokeReason.BY_PRESENTER]: "the presenter took it back",
  [RevokeReason.RELINQUISHED]: "given back",
  [RevokeReason.PRESENTER_CHANGED]: "someone else presents now",
  [RevokeReason.LEFT]: "a member left",
  [RevokeReason.BY_HOST]: "a host ended it",
  [RevokeReason.SESSION_ENDED]: "the session ended",
};

function startSession(link) {
  const screen = new ScreenCanvas($("screen"));
  const cursor = $("cursor");
  $("join-view").hidden = true;
  $("session-view").hidden = false;
  $("leave").hidden = false;

  link.addEventListener("roster", () => showRoster(link));
  link.addEventListener("code", (e) => { $("security-code").textContent = e.detail.code; });
  link.addEventListener("notice", (e) => addChatLine("", e.detail.text, "notice"));
  link.addEventListener("chat", (e) => {
    const { name, text } = e.detail;
    addChatLine(e.detail.private ? `${name} (privately)` : name, text);
  });
  link.addEventListener("screen", (e) => {
    screen.apply(e.detail.update).catch((error) => {
      if (error instanceof TileError) link.requestRefresh();
    });
  });
  link.addEventListener("cursor", (e) => {
    const canvas = $("screen");
    const scale = canvas.clientWidth / canvas.width;
    cursor.hidden = !e.detail.visible;
    cursor.style.left = `${canvas.offsetLeft + e.detail.x * scale}px`;
    cursor.style.top = `${canvas.offsetTop + e.detail.y * scale}px`;
  });
  const control = new RemoteControl($("screen"), (input) => link.sendInput(input));
  $("control").addEventListener("click", () => {
    if (link.inControl) link.giveBackControl();
    else link.requestControl();
  });
  link.addEventListener("control", (e) => {
    if (e.detail.holder === link.memberId) {
      control.start();
      addChatLine("", "You have remote control: your mouse and keyboard act on the shared screen.", "notice");
    } else if (control.active) {
      control.stop();
      addChatLine("", `Remote control ended (${CONTROL_ENDED[e.detail.reason] ?? "ended"}).`, "notice");
    }
  });
  link.addEventListener("consent", (e) => addChatLine("", consentLine(link, e.detail), "notice"));
  link.addEventListener("prompt", (e) => {
    // A browser cannot share its own screen here: say so, and answer no at once
    // (only a yes needs the person; a no never shows anything).
    const asker = link.names.get(e.detail.askedBy) ?? "Someone";
    if (e.detail.kind === ConsentKind.PRESENT) {
      addChatLine("", `${asker} asked you to show your screen. The browser cannot share a ` +
        "screen: answered no. Join with the relaydesk app to present.", "notice");
    }
    link.answer(e.detail.kind, false);
  });
  link.addEventListener("ended", (e) => {
    control.stop();
    addChatLine("", e.detail.text, "notice");
    $("message").disabled = true;
    $("leave").hidden = true;
  });

  $("chat-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = $("message").value.trim();
    if (!text) return;
    $("message").value = "";
    try {
      await link.sendChat(text);
      addChatLine("You", text);
    } catch (error) {
      addChatLine("", `Not sent: ${error.message}`, "notice");
    }
  });
  $("actual-size").addEventListener("click", () => {
    const viewport = $("viewport");
    const actual = viewport.classList.toggle("fit") === false;
    $("actual-size").setAttribute("aria-pressed", String(actual));
  });
  $("leave").addEventListener("click", () => {
    link.leave();
    $("leave").hidden = true;
    $("message").disabled = true;
  });
}

async function onJoin(event) {
  event.preventDefault();
  const error = $("join-error");
  const sessionId = $("session-id").value.replace(/[\s-]/g, "");
  const name = $("name").value.trim();
  error.textContent = "";
  if (!/^\d{9}$/.test(sessionId)) {
    error.textContent = "A session ID has 9 digits, like 123 456 789.";
    return;
  }
  if (!name) {
    error.textContent = "Please enter your name.";
    return;
  }
  $("join").disabled = true;
  const link = new SessionLink();
  link.addEventListener("status", (e) => setStatus(e.detail));
  try {
    await link.join(sessionId, name, $("password").value);
  } catch (failure) {
    error.textContent = failure instanceof JoinError ? failure.message : `Could not join: ${failure}`;
    $("join").disabled = false;
    setStatus({ text: "Not connected" });
    return;
  }
  history.replaceState(null, "", `/j/${sessionId}`);
  document.title = `relaydesk — ${formatId(sessionId)}`;
  startSession(link);
}

function main() {
  const sessionId = sessionIdFromPath();
  if (sessionId) $("session-id").value = formatId(sessionId);
  $(sessionId ? "name" : "session-id").focus();
  $("join-form").addEventListener("submit", onJoin);
}

main();
