// One member's live link to a session, in the browser (the Python twin is
// src/relaydesk/client/member.py): join through the broker's API, connect to the relay,
// keep the roster and keys, seal and open content, reconnect after a network drop.
//
// Events (a plain EventTarget; event.detail carries the data):
//   status {text, connected}       roster {}         code {code}
//   chat {from, name, text, private} screen {update}  cursor {x, y, visible}
//   notice {text}                  ended {text}
//   prompt {kind, askedBy}         consent {kind, askedBy, subject, result}
//   control {holder, reason}       (remote control granted, or ended when holder is 0)

import * as p from "./protocol/index.js";

const RECONNECT_DELAYS = [500, 1000, 2000, 4000, 8000];
const REKEY_CHECK_MS = 5000;
const FINAL_CLOSE_CODES = new Set([4003, 4005, 4006]); // bad ticket, expelled, ended

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

export class JoinError extends Error {
  constructor(message, status) {
    super(message);
    this.name = "JoinError";
    this.status = status;
  }
}

/** Ask the broker for a ticket. Errors carry the broker's own sentence. */
async function requestTicket(sessionId, name, password, keys) {
  let response;
  try {
    response = await fetch(`/api/sessions/${sessionId}/join`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({
        display_name: name,
        password: password || null,
        x25519: b64url(keys.x25519Public),
        ed25519: b64url(keys.ed25519Public),
      }),
    });
  } catch {
    throw new JoinError("The server cannot be reached. Check your connection.", 0);
  }
  let body = {};
  try {
    body = await response.json();
  } catch {
    // an answer without JSON: the status says enough
  }
  if (!response.ok) {
    let text = typeof body.detail === "string" ? body.detail : `The server refused (${response.status}).`;
    const retry = response.headers.get("Retry-After");
    if (response.status === 429 && retry) text += ` Try again in ${retry} s.`;
    throw new JoinError(text, response.status);
  }
  return body;
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
  }

  emit(type, detail = {}) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  status(text, connected = false) {
    this.emit("status", { text, connected });
  }

  /** Join: new keys for this session, a ticket from the broker, then the relay. */
  async join(sessionId, name, password) {
    this.keys = await p.MemberKeys.generate();
    const answer = await requestTicket(sessionId, name, password, this.keys);
    this.sessionId = sessionId;
    this.ticket = fromB64url(answer.ticket);
    this.memberId = answer.member_id;
    this.sessionUid = fromHex(answer.session_uid);
    this.relayUrl = answer.relay_url;
    this.ticketExpires = Number(answer.expires_at ? Date.parse(answer.expires_at) / 1000 : 0);
    const brokerPublic = fromB64url(answer.broker_public_key);
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
    if (this.leaving) return;
    if (FINAL_CLOSE_CODES.has(code)) {
      const text =
        code === 4005 ? "You were removed from the session."
        : code === 4006 ? "The session has ended."
        : `The relay refused this connection: ${reason || code}.`;
      this.finish(text);
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

  finish(text) {
    clearInterval(this.rekeyTimer);
    clearTimeout(this.reconnectTimer);
    this.status(text);
    this.emit("ended", { text });
  }

  leave() {
    this.leaving = true;
    clearInterval(this.rekeyTimer);
    clearTimeout(this.reconnectTimer);
    if (this.socket) this.socket.close(1000, "left");
    this.status("You left the session.");
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
  sendContent(message, target = p.EVERYONE) {
    const sent = this.outgoing.then(async () => {
      const frame = await this.e2e.seal(message, target);
      this.send(p.serializeFrame(frame));
    });
    this.outgoing = sent.catch(() => {});
    return sent;
  }

  sendChat(text, target = p.EVERYONE) {
    return this.sendContent({ type: p.FrameType.CHAT, text }, target);
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
        this.emit("chat", {
          from: header.sender,
          name: this.names.get(header.sender) ?? `member ${header.sender}`,
          text: message.text,
          private: header.target !== p.EVERYONE,
        });
        break;
      case p.FrameType.SCREEN_UPDATE:
        if (header.sender === this.presenter) this.emit("screen", { update: message });
        break;
      case p.FrameType.CURSOR:
        if (header.sender === this.presenter) this.emit("cursor", message);
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
    const ticket = await this.e2e.addMember(entry.ticket, now());
    this.names.set(ticket.memberId, ticket.displayName);
    this.roles.set(ticket.memberId, entry.role);
  }

  async control(header, message) {
    const T = p.FrameType;
    switch (message.type) {
      case T.ROSTER: {
        this.attempt = 0;
        this.status("Connected", true);
        this.e2e.noteEpoch(message.epoch);
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
        this.presenter = message.presenter;
        this.setControlHolder(message.controlHolder, 0);
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
        const name = this.names.get(message.memberId) ?? `member ${message.memberId}`;
        this.e2e.removeMember(message.memberId);
        this.roles.delete(message.memberId);
        this.emit("roster");
        this.emit("notice", { text: `${name} left` });
        await this.rekeyIfLeader();
        break;
      }
      case T.ROLE_CHANGE:
        this.roles.set(message.memberId, message.role);
        this.emit("roster");
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
      case T.CONSENT_PROMPT:
        this.emit("prompt", { kind: message.kind, askedBy: message.askedBy });
        break;
      case T.CONSENT_OUTCOME:
        if (message.kind === p.ConsentKind.CONTROL && message.askedBy === this.memberId) {
          this.controlRequested = false;
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
        break;
      case T.END:
        this.leaving = true;
        this.finish("The session has ended.");
        break;
      case T.ERROR:
        this.controlRequested = false; // a refused request (someone else has control…)
        this.emit("notice", { text: message.text });
        this.emit("roster");
        break;
      default:
        break;
    }
  }
}
