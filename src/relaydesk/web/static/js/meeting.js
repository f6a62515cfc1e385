// The meeting, for everyone: the waiting card while in the lobby, then the shared screen,
// the roster (with the lobby), the security code, chat; and the host controls whenever
// this member's CURRENT role is host. The final card when it is over for this member.
// Everything people or the network say is shown with textContent, never as HTML.

import { Annotations, COLORS } from "./annotate.js";
import { RemoteControl } from "./control.js";
import { $, copyText, el, formatId, setStatus, showView } from "./dom.js";
import { FileDesk } from "./files.js";
import { Presenting } from "./present.js";
import {
  EVERYONE,
  AnnotationKind,
  ChatRule,
  ConsentKind,
  ConsentResult,
  RevokeReason,
  Role,
  TicketRule,
  WaitReason,
} from "./protocol/index.js";
import { ScreenCanvas, TileError } from "./screen.js";
import { VIDEO_LAYERS, VIDEO_REFRESH_MIN_SECONDS } from "./protocol/limits.js";
import { LayerChoice } from "./video.js";
import { sessionLogCsv, sessionLogText } from "./sessionlog.js";
import { showShareState } from "./share_state.js";

const ROLE_NAMES = { [Role.HOST]: "Host", [Role.PARTICIPANT]: "Participant" };
const SHARING_OFF = "Desktop sharing is turned off on this server by its administrator.";
const CONTROL_OFF = "Remote control is turned off on this server by its administrator.";

const WAITING_TEXTS = {
  [WaitReason.APPROVAL]: [
    "Waiting for the host to let you in",
    "The host knows you are here: this page moves into the meeting as soon as they let you in.",
  ],
  [WaitReason.HOST_ABSENT]: [
    "Waiting for the host to start the meeting",
    "The meeting has not started yet: you are let in as soon as the host arrives.",
  ],
};
const CONNECTING = ["Joining the meeting…", "Connecting to the meeting server."];

const KEY_TEXTS = {
  verified: ["key verified", "You compared the security code of the keys this member holds."],
  unverified: ["key not verified", "Compare the security code, then press “I compared the code”."],
  pending: ["no key yet", "This member gets the keys of the next security code."],
};

const RESULTS = {
  [ConsentResult.GRANTED]: "said yes",
  [ConsentResult.DENIED]: "said no",
  [ConsentResult.TIMED_OUT]: "did not answer (that is a no)",
  [ConsentResult.CANCELLED]: "was not asked after all",
};

const CONTROL_ENDED = {
  [RevokeReason.BY_PRESENTER]: "the presenter took it back",
  [RevokeReason.RELINQUISHED]: "given back",
  [RevokeReason.PRESENTER_CHANGED]: "the presenter changed or stopped sharing",
  [RevokeReason.LEFT]: "a member left",
  [RevokeReason.BY_HOST]: "a host ended it",
  [RevokeReason.SESSION_ENDED]: "the session ended",
};

function addChatLine(name, text, kind = "") {
  const log = $("chat-log");
  const line = el("p", { className: kind || null });
  if (name) line.append(el("span", { className: "from", text: `${name}: ` }));
  line.append(document.createTextNode(text));
  log.append(line);
  log.scrollTop = log.scrollHeight;
}

function consentLine(link, { kind, askedBy, subject, result }) {
  const name = (id) => (id === link.memberId ? "you" : link.nameOf(id));
  const asked = kind === ConsentKind.CONTROL ? "for remote control" : "to present";
  const who = name(subject);
  return `${who[0].toUpperCase()}${who.slice(1)} ${RESULTS[result]}: ${name(askedBy)} asked ${asked}.`;
}

/**
 * Run the meeting page for `link` (joined: connecting to the relay).
 * @param {import("./session.js").SessionLink} link
 * @param {{inviteUrl?: string, title?: string, settings?: object, againHref?: string,
 *          againText?: string}} options
 */
export function openMeeting(link, options = {}) {
  const meeting = new MeetingView(link, options);
  meeting.start();
  return meeting;
}

class MeetingView {
  constructor(link, options) {
    this.link = link;
    this.options = options;
    this.inviteUrl = options.inviteUrl || `${location.origin}/j/${link.sessionId}`;
    this.title = options.title || "";
    this.settings = options.settings ?? null;
    this.confirmExpel = 0; // the member whose removal waits for "Remove" once more
    this.screenShown = false; // a picture of the current presenter is on the canvas
    this.shownPresenter = 0;
    this.inMeeting = false;
  }

  start() {
    const { link } = this;
    this.screen = new ScreenCanvas($("screen"));
    this.control = new RemoteControl($("screen"), (input) => link.sendInput(input));
    this.annotations = new Annotations($("annotations"), $("screen"),
      (fields) => link.sendAnnotation(fields), () => link.memberId);
    this.files = new FileDesk(link, (text) => addChatLine("", text, "notice"));
    document.title = `${this.title || `Session ${formatId(link.sessionId)}`} — relaydesk`;
    $("meeting-title").textContent = this.title || `Session ${formatId(link.sessionId)}`;
    $("info-id").textContent = formatId(link.sessionId);
    $("invite-url").value = this.inviteUrl;

    if (link.waitsInLobby) this.showWaiting(WaitReason.APPROVAL);
    else this.showWaiting(0);

    link.addEventListener("waiting", (e) => this.showWaiting(e.detail.reason));
    link.addEventListener("admitted", () => this.enter());
    link.addEventListener("roster", () => this.render());
    link.addEventListener("recording", () => this.renderRecording());
    link.addEventListener("annotation", (e) => {
      this.annotations.apply(e.detail.from, e.detail.annotation);
      this.annotations.place();
    });
    link.addEventListener("code", (e) => {
      $("security-code").textContent = e.detail.code;
      this.render();
    });
    link.addEventListener("notice", (e) => addChatLine("", e.detail.text, "notice"));
    link.addEventListener("chat", (e) => {
      const { name, text } = e.detail;
      addChatLine(e.detail.private ? `${name} (privately)` : name, text);
    });
    link.addEventListener("screen", (e) => {
      this.screen.apply(e.detail.update).then(() => {
        if (!this.screenShown) {
          this.screenShown = true;
          this.renderStage();
          this.renderChat();
        }
        this.annotations.place();
      }).catch((error) => {
        if (error instanceof TileError) link.requestRefresh();
      });
    });
    // Video: a bad frame, or a base layer that lost its chain, asks for keyframes (a
    // REFRESH), at most every VIDEO_REFRESH_MIN_SECONDS.
    let askedForVideo = -Infinity;
    const askForVideo = () => {
      if (performance.now() - askedForVideo < VIDEO_REFRESH_MIN_SECONDS * 1000) return;
      askedForVideo = performance.now();
      link.requestRefresh();
    };
    // Frames coming late: layer 0 alone until they come on time (VIDEO_LAYERS). A frame
    // counts when it has been drawn, so that a page falling behind in decoding counts too.
    let choice = new LayerChoice();
    let choiceFor = 0; // the presenter whose clock the choice knows
    const pace = (frame) => {
      if (link.presenter !== choiceFor) {
        if (choice.layers < VIDEO_LAYERS) link.requestVideoLayers(VIDEO_LAYERS);
        choice = new LayerChoice();
        choiceFor = link.presenter;
      }
      const layers = choice.observe(frame.sentAt, performance.now() / 1000);
      if (layers !== null) link.requestVideoLayers(layers);
    };
    link.addEventListener("video", (e) => {
      const { frame } = e.detail;
      this.screen.applyVideo(frame).then(({ lost }) => {
        pace(frame);
        if (lost) askForVideo();
      }).catch((error) => {
        if (error instanceof TileError) {
          console.warn("relaydesk: a bad video frame:", error.message);
          askForVideo();
        }
      });
    });
    link.addEventListener("share-state", (e) => {
      showShareState($("viewport"), e.detail.state, link.nameOf(link.presenter));
    });
    link.addEventListener("cursor", (e) => {
      const canvas = $("screen");
      const scale = canvas.clientWidth / canvas.width;
      $("cursor").hidden = !e.detail.visible;
      $("cursor").style.left = `${canvas.offsetLeft + e.detail.x * scale}px`;
      $("cursor").style.top = `${canvas.offsetTop + e.detail.y * scale}px`;
    });
    link.addEventListener("control", (e) => {
      if (e.detail.holder === link.memberId) {
        this.setDrawing(false); // remote control and drawing are exclusive modes
        this.control.start();
        addChatLine("", "You have remote control: your mouse and keyboard act on the shared screen.", "notice");
      } else if (this.control.active) {
        this.control.stop();
        addChatLine("", `Remote control ended (${CONTROL_ENDED[e.detail.reason] ?? "ended"}).`, "notice");
      }
    });
    link.addEventListener("consent", (e) => addChatLine("", consentLine(link, e.detail), "notice"));
    // Presenting from this browser (present.js): the question to present is asked in the
    // page; remote control of a browser presenter is refused (it needs the app).
    this.presenting = new Presenting(link, (text) => addChatLine("", text, "notice"));
    this.presenting.wire();
    link.addEventListener("prompt", (e) => {
      if (e.detail.kind === ConsentKind.PRESENT) this.presenting.ask(e.detail.askedBy);
      else this.presenting.refuseControl(e.detail.askedBy);
    });
    link.addEventListener("ended", (e) => this.finish(e.detail.title, e.detail.text, e.detail.code));
    this.wireControls();
  }

  // The views ------------------------------------------------------------------------

  showWaiting(reason) {
    const [title, text] = WAITING_TEXTS[reason] ?? CONNECTING;
    $("waiting-title").textContent = title;
    $("waiting-text").textContent = text;
    $("waiting-who").textContent =
      `Joining as ${this.link.name} · Session ${formatId(this.link.sessionId)}`;
    $("waiting-view").classList.toggle("lobby-wait", Boolean(reason));
    if (this.inMeeting) {
      this.inMeeting = false;
      $("host-tools").hidden = true;
      $("end-confirm").hidden = true;
      $("leave").hidden = true;
    }
    showView("waiting-view");
    $("meeting-title").hidden = false;
  }

  enter() {
    if (this.inMeeting) return;
    this.inMeeting = true;
    showView("session-view");
    $("leave").hidden = false;
    $("meeting-title").hidden = false;
    this.render();
  }

  finish(title, text, code = 0) {
    $("recording").hidden = true; // over: nothing more is recorded of this member
    this.control.stop();
    this.setDrawing(false);
    $("notes-confirm").hidden = true;
    this.showNotes();
    this.inMeeting = false;
    $("host-tools").hidden = true;
    $("end-confirm").hidden = true;
    $("leave").hidden = true;
    $("message").disabled = true;
    $("final-title").textContent = title;
    $("final-text").textContent = text;
    this.showSessionLog();
    const again = $("final-again");
    const final = code === 4005 || code === 4010;
    if (this.options.againHref) {
      again.href = this.options.againHref;
      again.textContent = this.options.againText ?? "Back";
    } else if (final) {
      again.href = "/j";
      again.textContent = "Back to the join page";
    } else {
      again.href = "/j";
      again.textContent = "Join a session";
    }
    showView("final-view");
  }

  // Rendering --------------------------------------------------------------------------

  render() {
    if (this.link.finished) return;
    this.renderRecording();
    this.renderHostTools();
    this.renderInfo();
    this.renderCode();
    this.renderLobby();
    this.renderRoster();
    this.renderStage();
    this.renderControlButton();
    this.renderDrawing();
    this.renderNotes();
    this.renderChat();
  }

  // Drawing on the shared screen, and the host's notes ------------------------------

  /** The Draw toggle for members allowed to draw while a picture shows. */
  renderDrawing() {
    const { link } = this;
    const can = this.screenShown && Boolean(link.presenter) && link.mayDraw(link.memberId);
    $("draw").hidden = !can;
    if (!can && this.annotations.drawing) this.setDrawing(false);
    for (const id of [...this.annotations.strokes.keys()]) {
      if (!link.roles.has(id)) this.annotations.forget(id); // they left: so do their drawings
    }
  }

  setDrawing(on) {
    if (on === this.annotations.drawing) return;
    if (on && this.control.active) {
      this.control.stop();
      addChatLine("", "Drawing: your mouse draws on the screen; remote control is paused.", "notice");
    }
    this.annotations.setDrawing(on);
    this.annotations.place();
    $("draw-tools").hidden = !on;
    $("draw").setAttribute("aria-pressed", String(on));
    $("draw").textContent = on ? "Stop drawing" : "Draw";
    if (!on && this.link.inControl && !this.link.finished) this.control.start();
  }

  setTool(kind) {
    this.annotations.tool.kind = kind;
    for (const [id, value] of [["tool-pen", AnnotationKind.PEN], ["tool-arrow", AnnotationKind.ARROW],
      ["tool-highlight", AnnotationKind.HIGHLIGHT]]) {
      $(id).setAttribute("aria-pressed", String(value === kind));
    }
  }

  /** "Let draw" / "Stop drawing" for a leader, on an attendee's row. */
  drawToggle(memberId, name) {
    const { link } = this;
    const allowed = link.permissions.annotators.includes(memberId);
    const button = el("button", {
      type: "button", className: "secondary small", text: allowed ? "Stop drawing" : "Let draw",
      "aria-label": allowed ? `Stop ${name} drawing` : `Let ${name} draw`,
    });
    button.addEventListener("click", () => link.setDrawing(memberId, !allowed));
    return button;
  }

  /** The notes panel: for hosts only (kept in this page's memory, never sent until the end). */
  renderNotes() {
    $("notes-panel").hidden = !(this.link.isHost && this.inMeeting);
  }

  /** This member's session log, to save as .txt or .csv (sessionlog.js). */
  showSessionLog() {
    const { link } = this;
    if (!link.startedAt) {
      $("final-log").hidden = true; // never reached the relay: nothing to log
      return;
    }
    const log = link.sessionLog();
    const stamp = new Date(log.startedAt).toISOString().replace(/[-:]/g, "").slice(0, 15);
    const base = `relaydesk-${log.sessionId}-${stamp.replace("T", "-")}`;
    for (const [id, body, type, ext] of [
      ["final-log-txt", sessionLogText(log), "text/plain", "txt"],
      ["final-log-csv", sessionLogCsv(log), "text/csv", "csv"],
    ]) {
      const anchor = $(id);
      if (anchor.href.startsWith("blob:")) URL.revokeObjectURL(anchor.href);
      anchor.href = URL.createObjectURL(new Blob([body], { type: `${type};charset=utf-8` }));
      anchor.download = `${base}.${ext}`;
    }
    const minutes = Math.max(0, Math.round((log.endedAt - log.startedAt) / 60000));
    $("final-log-line").textContent =
      `${minutes} min; ${log.bytesSent.toLocaleString()} bytes sent, ` +
      `${log.bytesReceived.toLocaleString()} received.`;
    $("final-log").hidden = false;
  }

  showNotes() {
    const notes = this.link.notes;
    $("final-notes").hidden = !notes;
    if (!notes) return;
    $("final-notes-from").textContent = `From ${notes.name}`;
    $("final-notes-text").textContent = notes.text;
    const save = $("final-notes-save");
    if (save.href.startsWith("blob:")) URL.revokeObjectURL(save.href);
    save.href = URL.createObjectURL(new Blob([notes.text], { type: "text/plain;charset=utf-8" }));
  }

  /** "Recording by NAME" in the top bar, for every member (the lobby too) while a host's
   * client records the session (§3.23). */
  renderRecording() {
    const { link } = this;
    const shown = $("recording");
    shown.hidden = !link.recorder || link.finished;
    if (!link.recorder) return;
    const who = link.recorderName(link.recorder);
    shown.textContent = who === "You" ? "Recording by you" : `Recording by ${who}`;
    shown.title = "A host's app records this session: the screen, chat and what is drawn";
  }

  /** Whom this member may chat with now (the chat rule), and what leaders may change. */
  renderChat() {
    const { link } = this;
    const me = link.memberId;
    const leads = link.leads(me);
    const { chat, maySave, mayRecord } = link.permissions;
    $("attendee-rules").hidden = !leads;
    $("chat-rule").value = String(chat);
    $("may-save").checked = maySave;
    $("may-record").checked = mayRecord;
    const select = $("chat-to");
    const chosen = select.value;
    const choices = [];
    if (link.chatAllowed(me, EVERYONE)) choices.push([EVERYONE, "Everyone"]);
    for (const [id, name] of [...link.names].sort((a, b) => a[0] - b[0])) {
      if (id !== me && link.roles.has(id) && link.chatAllowed(me, id)) {
        choices.push([id, `${name} (privately)`]);
      }
    }
    select.replaceChildren(...choices.map(([id, text]) => el("option", { value: String(id), text })));
    if (choices.some(([id]) => String(id) === chosen)) select.value = chosen;
    const mute = choices.length === 0;
    $("message").disabled = mute;
    select.hidden = mute;
    $("message").placeholder = mute
      ? (chat === ChatRule.NOBODY ? "The presenter turned chat off" : "Nobody you may write to is here")
      : "Message";
    $("save-snapshot").hidden = !this.screenShown || !link.presenter || !(leads || maySave);
  }

  renderHostTools() {
    const { link } = this;
    const host = link.isHost && this.inMeeting;
    const confirming = !$("end-confirm").hidden;
    $("host-tools").hidden = !host || confirming;
    if (!host && confirming) {
      $("end-confirm").hidden = true;
      $("leave").hidden = !this.inMeeting;
    }
    $("lock").textContent = link.locked ? "Unlock meeting" : "Lock meeting";
    $("lock").setAttribute("aria-pressed", String(link.locked));
    $("stop-sharing").disabled = !link.presenter;
  }

  renderInfo() {
    const { link } = this;
    const flags = [];
    if (link.locked) flags.push(["locked", "Locked: nobody new can join"]);
    if (link.hasRule(TicketRule.TWO_PARTY) || this.settings?.two_party) {
      flags.push(["", "Support session: two people"]);
    }
    if (this.settings?.lobby || link.hasRule(TicketRule.WAIT_IN_LOBBY)) flags.push(["", "Lobby on"]);
    if (this.settings?.listed) flags.push(["", "Listed on the join page"]);
    if (link.hasRule(TicketRule.NO_SHARING)) flags.push(["site", "Desktop sharing off (site policy)"]);
    if (link.hasRule(TicketRule.NO_CONTROL)) flags.push(["site", "Remote control off (site policy)"]);
    $("info-flags").replaceChildren(
      ...flags.map(([kind, text]) => el("span", { className: `flag ${kind}`.trim(), text })),
    );
    $("info-flags").hidden = flags.length === 0;
  }

  renderCode() {
    const { link } = this;
    const code = link.securityCode;
    $("security-code").textContent = code ?? "—";
    const button = $("verify");
    const state = $("verify-state");
    button.disabled = code === null || link.codeVerified;
    if (code === null) {
      state.textContent = "Waiting for the keys…";
      state.className = "verify-state";
    } else if (link.codeVerified) {
      state.textContent = "Verified: you compared this code";
      state.className = "verify-state ok";
    } else {
      state.textContent = link.verifiedCode ? "New code: compare it again" : "Not compared yet";
      state.className = "verify-state warn";
    }
  }

  renderLobby() {
    const { link } = this;
    const waiting = [...link.lobby.values()].sort((a, b) => a.memberId - b.memberId);
    $("lobby-panel").hidden = waiting.length === 0;
    $("lobby-heading").textContent = `Lobby (${waiting.length})`;
    const host = link.isHost;
    $("admit-all").hidden = !host || waiting.length < 2;
    $("lobby").replaceChildren(...waiting.map((person) => {
      const who = el("div", { className: "who" },
        el("span", { className: "name", text: person.name }));
      if (host && person.email) who.append(el("span", { className: "email", text: person.email }));
      const reason = person.reason === WaitReason.HOST_ABSENT
        ? "waiting for a host to arrive" : "waiting to be let in";
      who.append(el("span", { className: "role", text: reason }));
      const item = el("li", { className: "person" }, who);
      if (host) {
        const admit = el("button", { type: "button", text: "Admit", "aria-label": `Admit ${person.name}` });
        admit.addEventListener("click", () => link.admit(person.memberId, true));
        const refuse = el("button", {
          type: "button", className: "secondary", text: "Refuse", "aria-label": `Refuse ${person.name}`,
        });
        refuse.addEventListener("click", () => link.admit(person.memberId, false));
        item.append(el("div", { className: "actions" }, admit, refuse));
      }
      return item;
    }));
  }

  renderRoster() {
    const { link } = this;
    const host = link.isHost;
    const members = [...link.names].filter(([id]) => link.roles.has(id)).sort((a, b) => a[0] - b[0]);
    $("participants-heading").textContent = `Participants (${members.length})`;
    if (this.confirmExpel && !link.roles.has(this.confirmExpel)) this.confirmExpel = 0;
    $("roster").replaceChildren(...members.map(([memberId, name]) => {
      const me = memberId === link.memberId;
      const who = el("div", { className: "who" },
        el("span", { className: "name", text: me ? `${name} (you)` : name }));
      const email = link.emails.get(memberId);
      if (host && email && !me) who.append(el("span", { className: "email", text: email }));
      const parts = [ROLE_NAMES[link.roles.get(memberId)] ?? "Member"];
      if (memberId === link.presenter) parts.push("presenting");
      if (memberId === link.controlHolder) parts.push("in control");
      who.append(el("span", { className: "role", text: parts.join(", ") }));
      const state = link.keyState(memberId);
      const [keyText, keyTitle] = KEY_TEXTS[state];
      const head = el("div", { className: "person-head" }, who,
        el("span", { className: `key ${state}`, text: keyText, title: keyTitle }));
      const item = el("li", { className: "person" }, head);
      if (host && !me) item.append(this.memberActions(memberId, name));
      else if (!me && link.leads(link.memberId) && !link.leads(memberId)) {
        item.append(el("div", { className: "actions" }, this.drawToggle(memberId, name)));
      }
      if (!me && this.files) item.append(this.files.sendButton(memberId, name));
      return item;
    }));
  }

  memberActions(memberId, name) {
    const { link } = this;
    if (this.confirmExpel === memberId) {
      const yes = el("button", { type: "button", className: "danger", text: "Remove" });
      yes.addEventListener("click", () => {
        this.confirmExpel = 0;
        link.expel(memberId);
        this.renderRoster();
      });
      const no = el("button", { type: "button", className: "secondary", text: "Cancel" });
      no.addEventListener("click", () => {
        this.confirmExpel = 0;
        this.renderRoster();
      });
      const question = el("span", { text: `Remove ${name} from the meeting? They cannot come back.` });
      return el("div", { className: "confirm-row", role: "group", "aria-label": `Remove ${name}?` },
        question, el("span", { className: "actions" }, yes, no));
    }
    const actions = el("div", { className: "actions" });
    if (memberId !== link.presenter && link.mayPresent(memberId)) {
      const asked = link.presentAsked === memberId;
      const present = el("button", {
        type: "button", className: "secondary small", text: asked ? "Asked to present…" : "Ask to present",
        disabled: asked, "aria-label": asked ? null : `Ask ${name} to present`,
      });
      present.addEventListener("click", () => link.askToPresent(memberId));
      actions.append(present);
    }
    if (link.roles.get(memberId) !== Role.HOST) {
      const makeHost = el("button", {
        type: "button", className: "secondary small", text: "Make host",
        "aria-label": `Make ${name} the host`,
      });
      makeHost.addEventListener("click", () => link.makeHost(memberId));
      actions.append(makeHost);
    }
    if (!link.leads(memberId)) actions.append(this.drawToggle(memberId, name));
    const expel = el("button", {
      type: "button", className: "danger-outline small", text: "Remove",
      "aria-label": `Remove ${name} from the meeting`,
    });
    expel.addEventListener("click", () => {
      this.confirmExpel = memberId;
      this.renderRoster();
    });
    actions.append(expel);
    return actions;
  }

  renderStage() {
    const { link } = this;
    if (link.presenter !== this.shownPresenter) {
      this.shownPresenter = link.presenter;
      showShareState($("viewport"), null, ""); // a new presenter: live until it says more
      this.screenShown = false;
      this.annotations.clearAll(); // another screen: the drawings were on the old one
    }
    const presenter = link.presenter ? link.nameOf(link.presenter) : "";
    $("presenter-line").textContent = presenter
      ? `${presenter} is presenting`
      : "Nobody is presenting right now";
    const showing = Boolean(link.presenter) && this.screenShown;
    $("screen").hidden = !showing;
    this.annotations.place();
    if (!showing) $("cursor").hidden = true;
    const empty = $("stage-empty");
    empty.hidden = showing;
    if (link.presenter === link.memberId) {
      empty.textContent = "You are presenting.";
    } else if (link.presenter) {
      empty.textContent = `Waiting for ${presenter}'s screen…`;
    } else if (!link.mayPresent(link.memberId)) {
      empty.textContent = SHARING_OFF;
    } else if (link.isHost) {
      empty.textContent = "Nobody is sharing a screen. Ask someone in the list to present.";
    } else {
      empty.textContent = "Nobody is sharing a screen.";
    }
  }

  // The one button for remote control: ask, wait, give back, or see who has it.
  renderControlButton() {
    const { link } = this;
    const button = $("control");
    const presenting = link.presenter !== 0 && link.presenter !== link.memberId;
    button.hidden = !presenting;
    const holder = link.names.get(link.controlHolder);
    button.title = "";
    if (link.controlForbidden) {
      button.textContent = "Remote control is off";
      button.title = CONTROL_OFF;
      button.disabled = true;
    } else if (link.inControl) {
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

  // Buttons --------------------------------------------------------------------------

  wireControls() {
    const { link } = this;
    $("chat-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      const text = $("message").value.trim();
      if (!text) return;
      $("message").value = "";
      const target = Number($("chat-to").value || EVERYONE);
      try {
        await link.sendChat(text, target);
        const to = target === EVERYONE ? "You" : `You to ${link.names.get(target) ?? "them"}`;
        addChatLine(to, text);
      } catch (error) {
        addChatLine("", `Not sent: ${error.message}`, "notice");
      }
    });
    $("chat-rule").addEventListener("change", () => {
      link.setPermissions({ chat: Number($("chat-rule").value) });
    });
    $("may-save").addEventListener("change", () => link.setPermissions({ maySave: $("may-save").checked }));
    // A presenter who is no host decides whether a host may record its screen (§3.23).
    $("may-record").addEventListener("change", () => {
      link.setPermissions({ mayRecord: $("may-record").checked });
    });
    $("save-snapshot").addEventListener("click", () => {
      // A picture of what this page shows, saved where the person chooses: never opened.
      $("screen").toBlob((blob) => {
        if (!blob) return;
        const anchor = el("a", { href: URL.createObjectURL(blob), download: "relaydesk-snapshot.png" });
        anchor.click();
        setTimeout(() => URL.revokeObjectURL(anchor.href), 10_000);
      }, "image/png");
    });
    $("control").addEventListener("click", () => {
      if (link.inControl) link.giveBackControl();
      else link.requestControl();
    });
    $("actual-size").addEventListener("click", () => {
      const actual = $("viewport").classList.toggle("fit") === false;
      $("actual-size").setAttribute("aria-pressed", String(actual));
    });
    $("copy-invite").addEventListener("click", () => copyText(this.inviteUrl, $("copy-invite"), $("invite-url")));
    $("verify").addEventListener("click", () => link.markVerified());
    $("admit-all").addEventListener("click", () => {
      for (const id of link.lobby.keys()) link.admit(id, true);
    });
    $("lock").addEventListener("click", () => link.setLocked(!link.locked));
    $("stop-sharing").addEventListener("click", () => link.stopSharing());
    // One question for "end for all", and for the last host leaving others behind:
    // a meeting without a host goes on, but nobody can admit, lock or end it any more.
    const askToEnd = (question, canLeave) => {
      $("end-question").textContent = question;
      $("leave-anyway").hidden = !canLeave;
      $("host-tools").hidden = true;
      $("leave").hidden = true;
      $("end-confirm").hidden = false;
      $("end-all-no").focus();
    };
    $("end-all").addEventListener("click", () => askToEnd("End the meeting for everyone?", false));
    $("end-all-no").addEventListener("click", () => {
      $("end-confirm").hidden = true;
      $("leave").hidden = !this.inMeeting;
      this.renderHostTools();
    });
    $("end-all-yes").addEventListener("click", () => {
      $("end-confirm").hidden = true;
      if ($("host-notes").value.trim()) {
        // The notes never left this page: ask before they go to everyone.
        $("notes-confirm").hidden = false;
        $("notes-send").focus();
        return;
      }
      link.endForAll();
    });
    $("notes-send").addEventListener("click", async () => {
      $("notes-confirm").hidden = true;
      try {
        await link.sendNotes($("host-notes").value.trim());
      } catch (error) {
        addChatLine("", `Notes not sent: ${error.message}`, "notice");
      }
      link.endForAll();
    });
    $("notes-skip").addEventListener("click", () => {
      $("notes-confirm").hidden = true;
      link.endForAll();
    });
    $("notes-cancel").addEventListener("click", () => {
      $("notes-confirm").hidden = true;
      $("leave").hidden = !this.inMeeting;
      this.renderHostTools();
    });
    $("draw").addEventListener("click", () => this.setDrawing(!this.annotations.drawing));
    $("tool-pen").addEventListener("click", () => this.setTool(AnnotationKind.PEN));
    $("tool-arrow").addEventListener("click", () => this.setTool(AnnotationKind.ARROW));
    $("tool-highlight").addEventListener("click", () => this.setTool(AnnotationKind.HIGHLIGHT));
    $("draw-color").replaceChildren(...COLORS.map(([color, name]) =>
      el("option", { value: String(color), text: name })));
    $("draw-color").addEventListener("change", () => {
      this.annotations.tool.color = Number($("draw-color").value);
    });
    $("clear-mine").addEventListener("click", () => {
      this.annotations.clearMine().catch((error) => addChatLine("", `Not cleared: ${error.message}`, "notice"));
    });
    const leave = () => {
      this.presenting.stop("left");
      link.leave();
      this.finish("You left the meeting", "You can join again with the same link while the meeting goes on.");
      const again = $("final-again");
      if (!this.options.againHref) {
        again.href = `/j/${link.sessionId}`;
        again.textContent = "Join again";
      }
    };
    $("leave").addEventListener("click", () => {
      const hosts = [...link.roles.values()].filter((role) => role === Role.HOST).length;
      if (link.isHost && hosts === 1 && link.roles.size > 1) {
        askToEnd("You are the only host. End the meeting for everyone, or leave it running?", true);
      } else {
        leave();
      }
    });
    $("leave-anyway").addEventListener("click", () => {
      $("end-confirm").hidden = true;
      leave();
    });
    $("waiting-leave").addEventListener("click", leave);
  }
}

export { setStatus };
