// One member's live link to a session, in the browser (the Python twin is
// src/relaydesk/client/member.py): join through the broker's API, connect to the relay,
// keep the roster and keys, seal and open content, reconnect after a network drop.
//
// Events (a plain EventTarget; event.detail carries the data):
//   status {text, connected}       roster {}  (members, roles, lobby, lock, keys changed)
//   code {code}                    chat {from, name, text, private}
//   screen {update}                cursor {x, y, visible}
//   notice {text}                  ended {text, title, code}  (final: nothing more comes)
//   prompt {kind, askedBy}         consent {kind, askedBy, subject, result}
//   refresh {memberId}             (this member presents) a full picture for memberId
//   control {holder, reason}       (remote control granted, or ended when holder is 0)
//   waiting {reason}               this member waits in the lobby (WaitReason)
//   admitted {}                    this member is in (the first ROSTER after waiting)
//   annotation {from, annotation}  a stroke (or a clear) from a member allowed to draw
//   notes {from, name, text}       the host's notes, sent just before the end
//   file {header, message}         FILE_OFFER / FILE_ANSWER / FILE_CHUNK / FILE_END (files.js)

import * as p from "./protocol/index.js";

const RECONNECT_DELAYS = [500, 1000, 2000, 4000, 8000];
const REKEY_CHECK_MS = 5000;
// Bad ticket, expelled, ended, refused entry from the lobby: never reconnect.
const FINAL_CLOSE_CODES = new Set([4003, 4005, 4006, 4010]);

/** What the page says when the session is over for this member, by close code. */
const FINAL_TEXTS = {
  4005: ["You were removed from the meeting", "A host removed you from this meeting. You cannot join it again."],
  4006: ["The meeting has ended", "The session has ended."],
  4010: ["The host did not let you in", "A host refused your entry to this meeting."],
};

/** Why the session ended (END's EndReason), as a sentence. */
const END_TEXTS = {
  1: "The host ended the meeting for everyone.",
  2: "The presenter ended the session.",
  3: "The other party left: this support session has ended.",
  4: "The server is shutting down: the session has ended.",
};

function b64url(bytes) {
  let text = "";
  for (const byte of bytes) text += String.fromCharCode(byte);
  return btoa(text).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

function fromB64url(text) {
  const binary = atob(text.replaceAll("-", "+").replaceAll("_", "/"));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

function fromHex(text) {
  return Uint8Array.from(text.match(/../g) ?? [], (h) => parseInt(h, 16));
}

const now = () => Date.now() / 1000;

const CHAT_RULE_TEXTS = {
  [p.ChatRule.EVERYONE]: "Attendees may chat with everyone.",
  [p.ChatRule.PRESENTER]: "Attendees may chat only privately, with the presenter or a host.",
  [p.ChatRule.NOBODY]: "The presenter turned chat off for attendees.",
};

export class JoinError extends Error {
  constructor(message, status) {
    super(message);
    this.name = "JoinError";
    this.status = status;
  }
}

/**
 * Ask the broker for a ticket. Errors carry the broker's own sentence. The request goes
 * with same-origin credentials: a signed-in organizer's cookie makes them host of their
 * own session (the page itself never sees the token).
 */
async function requestTicket(sessionId, name, password, keys, email) {
  let response;
  const body = {
    display_name: name,
    password: password || null,
    x25519: b64url(keys.x25519Public),
    ed25519: b64url(keys.ed25519Public),
  };
  if (email) body.email = email;
  try {
    response = await fetch(`/api/sessions/${sessionId}/join`, {
      method: "POST",
      credentials: "same-origin",
      cache: "no-store",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
  } catch {
    throw new JoinError("The server cannot be reached. Check your connection.", 0);
  }
  let answer = {};
  try {
    answer = await response.json();
  } catch {
    // an answer without JSON: the status says enough
  }
  if (!response.ok) {
    let text = typeof answer.detail === "string" ? answer.detail : `The server refused (${response.status}).`;
    const retry = response.headers.get("Retry-After");
    if (response.status === 429 && retry) text += ` Try again in ${retry} s.`;
    throw new JoinError(text, response.status);
  }
  return answer;
}

export class SessionLink extends EventTarget {
  constructor() {
    super();
    this.names = new Map(); // member id -> display name (from verified tickets)
    this.roles = new Map(); // member id -> Role
    this.presenter = 0;
    this.controlHolder = 0;
    this.memberId = 0;
    this.socket = null;
    this.leaving = false;
    this.attempt = 0;
    this.queue = Promise.resolve(); // frames are handled strictly in order
    this.outgoing = Promise.resolve(); // sealed frames leave in the order of their sequence
    this.controlRequested = false; // asked the presenter; no answer yet
    this.emails = new Map(); // member id -> e-mail address from its ticket ("" if none)
    // Members waiting in the lobby: id -> {memberId, name, email, role, reason}.
    this.lobby = new Map();
    this.locked = false;
    // What attendees may do, as the presenter or a host set it (protocol §5.5).
    this.permissions = { chat: p.ChatRule.EVERYONE, annotators: [], maySave: true, mayRecord: false };
    this.waiting = 0; // this member's WaitReason while in the lobby, else 0
    this.admitted = false; // has been in the session (a ROSTER came)
    this.verifiedCode = null; // the security code this person said they compared
    this.rules = 0; // TicketRule bits of this member's own ticket
    this.email = "";
    this.finished = false;
    this.presentAsked = 0; // the member this host asked to present; no answer yet
    this.notes = null; // the host's notes, when they came at the end: {from, name, text}
  }

  emit(type, detail = {}) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  status(text, connected = false) {
    this.emit("status", { text, connected });
  }

  /**
   * Join: new keys for this session, a ticket from the broker, then the relay.
   * `options.email`: the e-mail address to give (optional unless the session asks).
   */
  async join(sessionId, name, password, options = {}) {
    this.keys = await p.MemberKeys.generate();
    const email = (options.email ?? "").trim();
    const answer = await requestTicket(sessionId, name, password, this.keys, email);
    this.sessionId = sessionId;
    this.name = name;
    this.email = email;
    this.ticket = fromB64url(answer.ticket);
    this.memberId = answer.member_id;
    this.joinedAs = answer.role === "host" ? p.Role.HOST : p.Role.PARTICIPANT;
    this.waitsInLobby = Boolean(answer.waits_in_lobby);
    this.title = typeof answer.title === "string" ? answer.title : "";
    this.sessionUid = fromHex(answer.session_uid);
    this.relayUrl = answer.relay_url;
    this.ticketExpires = Number(answer.expires_at ? Date.parse(answer.expires_at) / 1000 : 0);
    const brokerPublic = fromB64url(answer.broker_public_key);
    this.brokerPublic = brokerPublic;
    try {
      this.rules = Number(p.readTicket(this.ticket).ticket.rules ?? 0);
    } catch {
      this.rules = 0; // the relay will say what is wrong with it
    }
    this.e2e = new p.EndToEnd(this.sessionUid, this.memberId, this.keys, brokerPublic);
    this.rekeyTimer = setInterval(() => this.run(() => this.rekeyIfLeader()), REKEY_CHECK_MS);
    this.connect();
  }

  /** The relay's address as this page reaches the server (same origin). */
  relayAddress() {
    const url = new URL(this.relayUrl);
    return `wss://${location.host}${url.pathname}`;
  }

  connect() {
    this.status(this.attempt ? "Reconnecting…" : "Connecting…");
    const socket = new WebSocket(this.relayAddress());
    socket.binaryType = "arraybuffer";
    this.socket = socket;
    this.controlSequence = 0;
    socket.onopen = () => {
      this.sendControl({ type: p.FrameType.HELLO, ticket: this.ticket });
    };
    socket.onmessage = (event) => {
      if (typeof event.data === "string") return;
      const data = new Uint8Array(event.data);
      this.run(() => this.handle(data));
    };
    socket.onclose = (event) => {
      if (this.socket !== socket) return;
      this.socket = null;
      this.closed(event.code, event.reason);
    };
  }

  closed(code, reason) {
    if (this.leaving || this.finished) return;
    if (FINAL_CLOSE_CODES.has(code)) {
      const [title, text] = FINAL_TEXTS[code]
        ?? ["You cannot join this session", `The relay refused this connection: ${reason || code}.`];
      this.finish(text, title, code);
      return;
    }
    if (this.ticketExpires && now() > this.ticketExpires) {
      this.finish("The connection was lost. Join again to continue.");
      return;
    }
    const delay = RECONNECT_DELAYS[Math.min(this.attempt, RECONNECT_DELAYS.length - 1)];
    this.attempt += 1;
    this.status(`Connection lost — reconnecting in ${Math.round(delay / 100) / 10} s…`);
    this.reconnectTimer = setTimeout(() => this.connect(), delay);
  }

  finish(text, title = "The meeting has ended", code = 0) {
    if (this.finished) return;
    this.finished = true;
    clearInterval(this.rekeyTimer);
    clearTimeout(this.reconnectTimer);
    this.status(text);
    this.emit("ended", { text, title, code });
  }

  leave() {
    this.leaving = true;
    this.finished = true;
    clearInterval(this.rekeyTimer);
    clearTimeout(this.reconnectTimer);
    if (this.socket) this.socket.close(1000, "left");
    this.status("You left the session.");
  }

  // What the page shows --------------------------------------------------------------

  /** This member's CURRENT role is host (as the relay last announced it). */
  get isHost() {
    return this.roles.get(this.memberId) === p.Role.HOST;
  }

  /** Presents or is a host: the chat rule and annotation rights never bind it. */
  leads(memberId) {
    return memberId !== 0 && (memberId === this.presenter || this.roles.get(memberId) === p.Role.HOST);
  }

  /** May `from` chat to `target` (EVERYONE or a member) under the current rule? */
  chatAllowed(from, target) {
    const leads = target !== p.EVERYONE && this.leads(target);
    return p.chatAllowed(this.permissions.chat, this.leads(from), target, leads);
  }

  /** May `memberId` draw on the shared screen (a leader, or let by one)? */
  mayDraw(memberId) {
    return this.leads(memberId) || this.permissions.annotators.includes(memberId);
  }

  /** A leader lets a member draw (true) or stops them (false). */
  setDrawing(memberId, allowed) {
    const others = this.permissions.annotators.filter((id) => id !== memberId);
    this.setPermissions({ annotators: allowed ? [...others, memberId].sort((a, b) => a - b) : others });
  }

  /** The presenter or a host changes what attendees may do (the relay checks who). */
  setPermissions(changes) {
    this.sendControl({ type: p.FrameType.PERMISSIONS, ...this.permissions, ...changes });
  }

  /** A ticket rule of this member's own ticket (TicketRule.TWO_PARTY...). */
  hasRule(rule) {
    return (this.rules & rule) !== 0;
  }

  /** The security code of the current epoch, or null before the first. */
  get securityCode() {
    return this.e2e?.securityCode ?? null;
  }

  /** This person compared the current security code (and pressed the button for it). */
  get codeVerified() {
    return this.securityCode !== null && this.verifiedCode === this.securityCode;
  }

  /** "I compared the code": the members of the current epoch count as verified. */
  markVerified() {
    if (this.securityCode === null) return;
    this.verifiedCode = this.securityCode;
    this.emit("roster");
  }

  /**
   * A member's key: "verified" (in the current epoch, whose code this person compared),
   * "unverified" (in the current epoch, code not compared) or "pending" (no key in the
   * current epoch yet).
   */
  keyState(memberId) {
    const epoch = this.e2e?.current;
    if (!epoch || !epoch.members.has(memberId)) return "pending";
    return this.codeVerified ? "verified" : "unverified";
  }

  // Host controls (the relay refuses them from a participant, with ERROR) ------------

  /** Let a member waiting in the lobby in (true) or refuse them (false). */
  admit(memberId, admitted) {
    this.sendControl({ type: p.FrameType.ADMIT, memberId, admitted });
  }

  expel(memberId) {
    this.sendControl({ type: p.FrameType.EXPEL, memberId });
  }

  setLocked(locked) {
    this.sendControl({ type: p.FrameType.LOCK, locked });
  }

  /** Hand the host role over: the other becomes host, then this member a participant. */
  makeHost(memberId) {
    this.sendControl({ type: p.FrameType.ROLE_CHANGE, memberId, role: p.Role.HOST });
    this.sendControl({ type: p.FrameType.ROLE_CHANGE, memberId: this.memberId, role: p.Role.PARTICIPANT });
  }

  /** Ask a member to show their screen; they are asked, and may say no. */
  askToPresent(memberId) {
    this.presentAsked = memberId;
    this.sendControl({ type: p.FrameType.PRESENTER_REQUEST, memberId });
    this.emit("roster");
  }

  /** Stop whoever presents, for everyone. */
  stopSharing() {
    if (!this.presenter) return;
    this.sendControl({
      type: p.FrameType.REVOKE, kind: p.ConsentKind.PRESENT, memberId: this.presenter,
      reason: p.RevokeReason.BY_HOST,
    });
  }

  /** End the meeting for everyone. */
  endForAll() {
    this.sendControl({ type: p.FrameType.END, reason: p.EndReason.ENDED_BY_HOST });
  }

  /** Run `job` after every job queued before it (WebCrypto is asynchronous). */
  run(job) {
    this.queue = this.queue.then(job).catch((error) => console.warn("relaydesk:", error));
    return this.queue;
  }

  send(bytes) {
    if (this.socket && this.socket.readyState === WebSocket.OPEN) this.socket.send(bytes);
  }

  sendControl(message, target = p.RELAY) {
    this.controlSequence += 1;
    const frame = p.controlFrame(message, {
      sessionUid: this.sessionUid, sender: this.memberId, sequence: this.controlSequence, target,
    });
    this.send(p.serializeFrame(frame));
  }

  /** Seal and send a content message, after every one sealed before it. */
  sendContent(message, target = p.EVERYONE, flags = p.Flags.NONE) {
    const sent = this.outgoing.then(async () => {
      const frame = await this.e2e.seal(message, target, flags);
      this.send(p.serializeFrame(frame));
    });
    this.outgoing = sent.catch(() => {});
    return sent;
  }

  sendChat(text, target = p.EVERYONE) {
    return this.sendContent({ type: p.FrameType.CHAT, text }, target);
  }

  /** One stroke, or a clear of this member's strokes, to everyone (§4.4). */
  sendAnnotation(fields) {
    return this.sendContent({ type: p.FrameType.ANNOTATION, ...fields });
  }

  /** The host's notes, to everyone: sent (sealed) before END goes (§4.3, NOTES). */
  sendNotes(text) {
    return this.sendContent({ type: p.FrameType.NOTES, text: text.slice(0, p.limits.MAX_NOTES_CHARS) });
  }

  get inControl() {
    return this.controlHolder !== 0 && this.controlHolder === this.memberId;
  }

  /** Ask the presenter for remote control; they are asked, and may say no. */
  requestControl() {
    this.controlRequested = true;
    this.sendControl({ type: p.FrameType.CONTROL_REQUEST });
    this.emit("roster");
  }

  /** Give remote control back (the presenter can take it back any time anyway). */
  giveBackControl() {
    this.sendControl({
      type: p.FrameType.REVOKE, kind: p.ConsentKind.CONTROL, memberId: this.memberId,
      reason: p.RevokeReason.RELINQUISHED,
    });
  }

  /** One mouse or keyboard action for the presenter's screen, while in control. */
  sendInput(fields) {
    if (!this.inControl || !this.presenter) return Promise.resolve();
    return this.sendContent({ type: p.FrameType.INPUT_EVENT, ...fields }, this.presenter)
      .catch((error) => console.warn("relaydesk: input not sent:", error.message));
  }

  answer(kind, granted) {
    this.sendControl({ type: p.FrameType.CONSENT_ANSWER, kind, granted });
  }

  requestRefresh() {
    this.sendControl({ type: p.FrameType.REFRESH, memberId: 0 });
  }

  async rekeyIfLeader() {
    if (this.e2e && this.socket && this.e2e.needsRekey(now())) {
      this.send(p.serializeFrame(await this.e2e.startEpoch(p.randomBytes, now())));
      // The leader holds the new epoch at once (its own commit never comes back).
      this.emit("code", { code: this.e2e.securityCode });
      this.emit("roster");
    }
  }

  async handle(data) {
    let frame;
    try {
      frame = p.parseFrame(data);
    } catch (error) {
      console.warn("relaydesk: unparseable frame", error);
      return;
    }
    const { header } = frame;
    if (p.isContentType(header.type)) {
      let message;
      try {
        message = await this.e2e.open(frame, now());
      } catch (error) {
        console.warn("relaydesk: dropped a frame from member", header.sender, error.message);
        // Sealed in an epoch newer than any held here: made while this member (now the
        // key leader) was away. The leader starts a newer one (§6.3).
        if (error instanceof p.NoEpochKey && (await this.e2e.strayEpoch(frame, now()))) {
          await this.rekeyIfLeader();
        }
        return;
      }
      this.content(header, message);
      return;
    }
    const message = p.decodeMessage(header.type, frame.body);
    await this.control(header, message);
  }

  content(header, message) {
    switch (message.type) {
      case p.FrameType.CHAT:
        // The relay enforces the chat rule; a line it should not have forwarded is dropped.
        if (!this.chatAllowed(header.sender, header.target)) {
          console.warn("relaydesk: dropped a chat line the chat rule forbids, from", header.sender);
          break;
        }
        this.emit("chat", {
          from: header.sender,
          name: this.names.get(header.sender) ?? `member ${header.sender}`,
          text: message.text,
          private: header.target !== p.EVERYONE,
        });
        break;
      case p.FrameType.ANNOTATION:
        // The relay enforces who may draw; a stroke it should not have forwarded is dropped.
        if (!this.mayDraw(header.sender)) {
          console.warn("relaydesk: dropped a stroke from a member not let draw:", header.sender);
          break;
        }
        this.emit("annotation", { from: header.sender, annotation: message });
        break;
      case p.FrameType.NOTES:
        if (!this.leads(header.sender) || header.target !== p.EVERYONE) {
          console.warn("relaydesk: dropped notes from a member that does not lead:", header.sender);
          break;
        }
        this.notes = { from: header.sender, name: this.nameOf(header.sender), text: message.text };
        this.emit("notes", this.notes);
        break;
      case p.FrameType.SCREEN_UPDATE:
        if (header.sender === this.presenter) this.emit("screen", { update: message });
        break;
      case p.FrameType.CURSOR:
        if (header.sender === this.presenter) this.emit("cursor", message);
        break;
      case p.FrameType.SHARE_STATE:
        if (header.sender === this.presenter) this.emit("share-state", { state: message });
        break;
      case p.FrameType.FILE_OFFER:
      case p.FrameType.FILE_ANSWER:
      case p.FrameType.FILE_CHUNK:
      case p.FrameType.FILE_END:
        this.emit("file", { header, message }); // files.js: the receiver checks the target
        break;
      default:
        break;
    }
  }

  setControlHolder(holder, reason) {
    if (holder === this.controlHolder) return;
    this.controlHolder = holder;
    this.emit("control", { holder, reason });
  }

  async addMember(entry) {
    const ticket = await this.e2e.addMember(entry.ticket, now(), entry.role);
    this.names.set(ticket.memberId, ticket.displayName);
    this.emails.set(ticket.memberId, ticket.email ?? "");
    this.roles.set(ticket.memberId, entry.role);
    this.lobby.delete(ticket.memberId);
  }

  /** Someone in the lobby: their ticket is checked too (name and e-mail come from it). */
  async addToLobby(entry, reason) {
    const ticket = await p.verifyTicket(entry.ticket, this.brokerPublic, {
      now: now(), sessionUid: this.sessionUid, checkExpiry: false,
    });
    if (ticket.memberId !== entry.memberId) throw new Error("a lobby entry with another member's ticket");
    const known = this.lobby.get(entry.memberId);
    this.lobby.set(entry.memberId, {
      memberId: entry.memberId,
      name: ticket.displayName,
      email: ticket.email ?? "",
      role: entry.role,
      reason: reason ?? known?.reason ?? 0,
    });
    return ticket;
  }

  nameOf(memberId) {
    return this.names.get(memberId) ?? this.lobby.get(memberId)?.name ?? `member ${memberId}`;
  }

  async control(header, message) {
    const T = p.FrameType;
    switch (message.type) {
      case T.ROSTER: {
        this.attempt = 0;
        this.status("Connected", true);
        this.e2e.noteEpoch(message.epoch);
        this.locked = Boolean(message.locked);
        // After a reconnect the roster replaces what we knew: whoever left meanwhile is
        // gone (no MEMBER_LEFT reached us), for the list and for the key leader rule.
        const present = new Set(message.members.map((entry) => entry.memberId));
        for (const memberId of [...this.roles.keys()]) {
          if (!present.has(memberId)) {
            this.e2e.removeMember(memberId);
            this.roles.delete(memberId);
          }
        }
        for (const entry of message.members) await this.addMember(entry);
        this.lobby.clear();
        for (const entry of message.lobby ?? []) {
          try {
            await this.addToLobby(entry, 0);
          } catch (error) {
            console.warn("relaydesk: a lobby entry with a bad ticket:", error.message);
          }
        }
        this.presenter = message.presenter;
        this.setControlHolder(message.controlHolder, 0);
        if (!this.admitted || this.waiting) {
          this.admitted = true;
          this.waiting = 0;
          this.emit("admitted");
        }
        this.emit("roster");
        await this.rekeyIfLeader();
        break;
      }
      case T.MEMBER_JOINED:
        await this.addMember(message.entry);
        this.emit("roster");
        this.emit("notice", { text: `${this.names.get(message.entry.memberId)} joined` });
        await this.rekeyIfLeader();
        break;
      case T.MEMBER_LEFT: {
        const name = this.nameOf(message.memberId);
        if (this.lobby.delete(message.memberId) && !this.roles.has(message.memberId)) {
          this.emit("roster");
          this.emit("notice", { text: `${name} left the lobby` });
          break;
        }
        this.e2e.removeMember(message.memberId);
        this.roles.delete(message.memberId);
        this.emit("roster");
        const expelled = message.reason === p.LeaveReason.EXPELLED;
        this.emit("notice", { text: expelled ? `${name} was removed from the meeting` : `${name} left` });
        await this.rekeyIfLeader();
        break;
      }
      case T.ROLE_CHANGE: {
        const before = this.roles.get(message.memberId);
        this.roles.set(message.memberId, message.role);
        this.e2e.setRole?.(message.memberId, message.role);
        this.emit("roster");
        if (before !== message.role) {
          const host = message.role === p.Role.HOST;
          const text = message.memberId === this.memberId
            ? (host ? "You are now a host of this meeting." : "You are no longer a host.")
            : `${this.nameOf(message.memberId)} ${host ? "is now a host" : "is no longer a host"}`;
          this.emit("notice", { text });
        }
        await this.rekeyIfLeader();
        break;
      }
      case T.WAITING:
        if (message.entry.memberId === this.memberId) {
          this.waiting = message.reason;
          this.status("Waiting in the lobby");
          this.emit("waiting", { reason: message.reason });
          break;
        }
        try {
          await this.addToLobby(message.entry, message.reason);
        } catch (error) {
          console.warn("relaydesk: a lobby entry with a bad ticket:", error.message);
          break;
        }
        this.emit("roster");
        this.emit("notice", { text: `${this.nameOf(message.entry.memberId)} is waiting in the lobby` });
        break;
      case T.ADMIT: {
        const name = this.nameOf(message.memberId);
        this.lobby.delete(message.memberId);
        this.emit("roster");
        if (!message.admitted) this.emit("notice", { text: `${name} was not let in` });
        break;
      }
      case T.PERMISSIONS: {
        const { chat, annotators, maySave, mayRecord } = message;
        const changed = chat !== this.permissions.chat;
        this.permissions = { chat, annotators: [...annotators], maySave, mayRecord };
        this.emit("roster");
        if (changed) this.emit("notice", { text: CHAT_RULE_TEXTS[chat] });
        break;
      }
      case T.LOCK:
        this.locked = Boolean(message.locked);
        this.emit("roster");
        this.emit("notice", {
          text: this.locked ? "The meeting is locked: nobody new can join." : "The meeting is unlocked.",
        });
        break;
      case T.GRANT:
        if (message.kind === p.ConsentKind.PRESENT) {
          this.presenter = message.memberId;
          this.setControlHolder(0, p.RevokeReason.PRESENTER_CHANGED);
        } else {
          this.setControlHolder(message.memberId, 0);
        }
        this.emit("roster");
        break;
      case T.REVOKE:
        if (message.kind === p.ConsentKind.PRESENT && message.memberId === this.presenter) {
          this.presenter = 0;
          this.setControlHolder(0, message.reason);
        } else if (message.kind === p.ConsentKind.CONTROL) {
          this.setControlHolder(0, message.reason);
        }
        this.emit("roster");
        break;
      case T.REFRESH: // this member presents: `memberId` needs a full picture (§3.19)
        this.emit("refresh", { memberId: message.memberId });
        break;
      case T.CONSENT_PROMPT:
        this.emit("prompt", { kind: message.kind, askedBy: message.askedBy });
        break;
      case T.CONSENT_OUTCOME:
        if (message.kind === p.ConsentKind.CONTROL && message.askedBy === this.memberId) {
          this.controlRequested = false;
        }
        if (message.kind === p.ConsentKind.PRESENT && message.askedBy === this.memberId) {
          this.presentAsked = 0;
        }
        this.emit("consent", message);
        this.emit("roster");
        break;
      case T.KEY_COMMIT:
        this.e2e.noteEpoch(header.epoch);
        try {
          await this.e2e.applyCommit(header, message, now());
        } catch (error) {
          console.warn("relaydesk: refused a key commit:", error.message);
          return;
        }
        this.emit("code", { code: this.e2e.securityCode });
        this.emit("roster");
        break;
      case T.END:
        this.leaving = true;
        this.finish(END_TEXTS[message.reason] ?? "The session has ended.");
        break;
      case T.ERROR:
        this.controlRequested = false; // a refused request (someone else has control…)
        this.presentAsked = 0;
        this.emit("notice", { text: message.text });
        this.emit("roster");
        break;
      default:
        break;
    }
  }
}
