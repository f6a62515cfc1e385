// One member's live link to a session, in the browser (the Python twin is
// src/relaydesk/client/member.py): join through the broker's API, connect to the relay,
// keep the roster and keys, seal and open content, reconnect after a network drop.
//
// Events (a plain EventTarget; event.detail carries the data):
//   status {text, connected}       roster {}  (members, roles, lobby, lock, keys changed)
//   code {code}                    chat {from, name, text, private}
//   screen {update}                cursor {x, y, visible}
//   video {frame}                  (the presenter's VIDEO_FRAME: H.264 of a region)
//   notice {text}                  ended {text, title, code}  (final: nothing more comes)
//   prompt {kind, askedBy}         consent {kind, askedBy, subject, result}
//   refresh {memberId}             (this member presents) a full picture for memberId
//   control {holder, reason}       (remote control granted, or ended when holder is 0)
//   waiting {reason}               this member waits in the lobby (WaitReason)
//   admitted {}                    this member is in (the first ROSTER after waiting)
//   annotation {from, annotation}  a stroke (or a clear) from a member allowed to draw
//   notes {from, name, text}       the host's notes, sent just before the end
//   file {header, message}         FILE_OFFER / FILE_ANSWER / FILE_CHUNK / FILE_END (files.js)
//   recording {recorder}           who records the session now (0: nobody; §3.23)

import * as p from "./protocol/index.js";
import { ChatLog } from "./chatlog.js";

const REKEY_CHECK_MS = 5000;
const EMBEDDED_RELAY = "embedded"; // the relay inside `relaydesk server` (broker/relays.py)
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
    agreement: b64url(keys.agreementPublic),
    ed25519: b64url(keys.ed25519Public),
  };
  if (email) body.email = email;
  try {
    response = await post(`/api/sessions/${sessionId}/join`, body);
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

function post(path, body) {
  return fetch(path, {
    method: "POST",
    credentials: "same-origin",
    cache: "no-store",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
}

/**
 * A fresh join answer for the same member (§7.3): the ticket it holds, now, signed by
 * the ticket's own Ed25519 key; `failedRelay` names the relay that dropped it (or null).
 * Throws JoinError (status 0: the server cannot be reached).
 */
async function refreshTicket(sessionId, ticket, signingKey, failedRelay) {
  const timestamp = Math.floor(Date.now() / 1000);
  const signature = await p.signRefresh(ticket, timestamp, signingKey);
  let response;
  try {
    response = await post(`/api/sessions/${sessionId}/refresh`, {
      ticket: b64url(ticket), timestamp, signature: b64url(signature), failed_relay: failedRelay,
    });
  } catch {
    throw new JoinError("The server cannot be reached.", 0);
  }
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) {
    throw new JoinError(typeof answer.detail === "string" ? answer.detail : `refused (${response.status})`, response.status);
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
    this.recorder = 0; // the host recording the session (§3.23), 0: nobody
    this.verifiedCode = null; // the security code this person said they compared
    this.rules = 0; // TicketRule bits of this member's own ticket
    this.email = "";
    this.finished = false;
    this.presentAsked = 0; // the member this host asked to present; no answer yet
    this.notes = null; // the host's notes, when they came at the end: {from, name, text}
    this.memberRules = new Map(); // member id -> TicketRule bits of its ticket
    // Whole frames written to and read from the relay links, every link (session log).
    this.bytesSent = 0;
    this.bytesReceived = 0;
    this.startedAt = 0; // ms: the first link to the relay opened
    this.endedAt = 0; // ms: the session ended for this member, or it left
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
    this.relays = Array.isArray(answer.relays) ? answer.relays : [];
    this.chatLog = new ChatLog(this.memberId, now);
    this.early = []; // content frames waiting for their epoch's commit (protocol §6.3)
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

  /** The relay's address. The embedded relay lives in the server that served this page,
   * so it is reached as the page was (the same name and port, whatever forwards them);
   * a relay of its own (several servers, docs/operators.md) at the answer's address. */
  relayAddress() {
    const url = new URL(this.relayUrl);
    const relay = this.relays.find((known) => known.wss_url === this.relayUrl);
    const embedded = relay === undefined || relay.name === EMBEDDED_RELAY;
    return embedded ? `wss://${location.host}${url.pathname}` : url.href;
  }

  connect() {
    this.status(this.attempt ? "Reconnecting…" : "Connecting…");
    const socket = new WebSocket(this.relayAddress());
    socket.binaryType = "arraybuffer";
    this.socket = socket;
    this.controlSequence = 0;
    socket.onopen = () => {
      if (!this.startedAt) this.startedAt = Date.now();
    };
    this.helloSent = false; // the relay speaks first: HELLO answers its CHALLENGE (§7.1)
    socket.onmessage = (event) => {
      if (typeof event.data === "string") return;
      const data = new Uint8Array(event.data);
      this.bytesReceived += data.length;
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
    this.connectedBefore = this.connectedBefore || this.admitted;
    this.failedRelay = this.relays.find((relay) => relay.wss_url === this.relayUrl)?.name ?? null;
    this.retry();
  }

  /** Wait (RECONNECT_FIRST_DELAY_SECONDS, doubling to RECONNECT_MAX_DELAY_SECONDS), get
   * a fresh ticket for the same member (§7.3), connect to the relay the answer names. */
  retry() {
    const { RECONNECT_FIRST_DELAY_SECONDS: first, RECONNECT_MAX_DELAY_SECONDS: most } = p.limits;
    const delay = Math.min(first * 2 ** this.attempt, most);
    this.attempt += 1;
    this.status("Reconnecting…");
    this.reconnectTimer = setTimeout(() => this.refreshAndConnect(), delay * 1000);
  }

  async refreshAndConnect() {
    if (this.leaving || this.finished) return;
    try {
      const answer = await refreshTicket(this.sessionId, this.ticket, this.keys.signing.privateKey, this.failedRelay);
      if (answer.member_id !== this.memberId) throw new JoinError("a ticket for another member", 403);
      this.ticket = fromB64url(answer.ticket);
      // The session moved to another home relay: a host sets its controls again there.
      this.homeMoved = answer.relay_url !== this.relayUrl;
      this.relayUrl = answer.relay_url;
      if (Array.isArray(answer.relays)) this.relays = answer.relays;
      this.ticketExpires = Number(answer.expires_at ? Date.parse(answer.expires_at) / 1000 : 0);
    } catch (error) {
      const status = error instanceof JoinError ? error.status : 0;
      if (status === 404 && !(this.ticketExpires && now() > this.ticketExpires)) {
        // a server without the refresh endpoint: the ticket held is still good
      } else if (status === 0 || status === 429 || status >= 500) {
        this.retry(); // the server is unreachable or busy: try again, later
        return;
      } else {
        this.finish(`The connection was lost and the server refused a new ticket: ${error.message}. Join again to continue.`);
        return;
      }
    }
    if (!this.leaving && !this.finished) this.connect();
  }

  finish(text, title = "The meeting has ended", code = 0) {
    if (this.finished) return;
    this.finished = true;
    this.endedAt = Date.now();
    clearInterval(this.rekeyTimer);
    clearTimeout(this.reconnectTimer);
    this.status(text);
    this.emit("ended", { text, title, code });
  }

  leave() {
    this.leaving = true;
    this.finished = true;
    this.endedAt = this.endedAt || Date.now();
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

  /** May `memberId` present (its ticket lacks the site policy's NO_SHARING, §7.2)? */
  mayPresent(memberId) {
    const rules = memberId === this.memberId ? this.rules : (this.memberRules.get(memberId) ?? 0);
    return (rules & p.TicketRule.NO_SHARING) === 0;
  }

  /** Remote control is off for this member or the presenter (NO_CONTROL, §7.2). */
  get controlForbidden() {
    const presenter = this.memberRules.get(this.presenter) ?? 0;
    return ((this.rules | presenter) & p.TicketRule.NO_CONTROL) !== 0;
  }

  /** What this member's session log says (sessionlog.js), as of now. */
  sessionLog() {
    const others = [...this.names].filter(([id]) => id !== this.memberId).sort((a, b) => a[0] - b[0]);
    return {
      server: location.origin,
      sessionId: this.sessionId,
      title: this.title,
      name: this.name,
      role: this.isHost || this.joinedAs === p.Role.HOST ? "host" : "participant",
      memberId: this.memberId,
      people: [this.name, ...others.map(([, name]) => name)],
      startedAt: this.startedAt,
      endedAt: this.endedAt || Date.now(),
      bytesSent: this.bytesSent,
      bytesReceived: this.bytesReceived,
    };
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

  /**
   * On a new home relay, once the members who were in are back (a locked relay would
   * refuse them, and the rules may name them) or RELOCK_WAIT_SECONDS passed: what
   * attendees may do, and the lock.
   */
  carryControls({ locked, permissions, wereHere }) {
    const usual = permissions.chat === p.ChatRule.EVERYONE && permissions.annotators.length === 0 &&
      permissions.maySave && !permissions.mayRecord;
    if (!locked && usual) return;
    this.carrying = { waiting: wereHere, deadline: now() + p.limits.RELOCK_WAIT_SECONDS, locked, permissions, usual };
    this.carryWhenBack();
  }

  carryWhenBack() {
    const carried = this.carrying;
    if (!carried) return;
    if (!carried.waiting.every((id) => this.roles.has(id)) && now() < carried.deadline) return;
    this.carrying = null;
    if (!this.isHost) return;
    if (!carried.usual) {
      const annotators = carried.permissions.annotators.filter((id) => this.roles.has(id));
      this.sendControl({ type: p.FrameType.PERMISSIONS, ...carried.permissions, annotators });
    }
    if (carried.locked && !this.locked) this.setLocked(true);
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
    if (this.socket && this.socket.readyState === WebSocket.OPEN) {
      this.socket.send(bytes);
      this.bytesSent += bytes.length;
    }
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

  /** A chat line, numbered and kept to be sent again after a drop (§4.3, §11). */
  sendChat(text, target = p.EVERYONE) {
    const line = this.chatLog.stamp({ type: p.FrameType.CHAT, text }, target, this.roles.keys());
    return this.sendContent(line, target);
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

  /** Ask the relay for the first `layers` video layers only (docs/protocol.md §5.4). */
  requestVideoLayers(layers) {
    this.sendControl({ type: p.FrameType.VIDEO_LAYERS, layers });
  }

  /** `anew`: the leader commits even if nothing changed (after its own reconnect). */
  async rekeyIfLeader(anew = false) {
    if (this.e2e && this.socket && (this.e2e.needsRekey(now()) || (anew && this.e2e.isLeader))) {
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
    this.expireEarly();
    if (p.isContentType(header.type)) {
      await this.openContent(frame, true);
      return;
    }
    const message = p.decodeMessage(header.type, frame.body);
    const current = this.e2e.current;
    this.chatLog.note(message, current ? [current.number, current.leader] : [0, 0]);
    await this.control(header, message);
    this.carryWhenBack();
    const after = this.e2e.current;
    if (current && after && after.number === current.number && after.leader !== current.leader) {
      // A stand-in's epoch, replaced by the leader's (§6.2): what was sealed in it
      // opens for no one now.
      this.chatLog.again([current.number, current.leader]);
    }
    if (header.type === p.FrameType.KEY_COMMIT && this.early.length > 0) await this.retryEarly();
    const epoch = this.e2e.current;
    // Replays go out only in an epoch the key leader of those present made (protocol §11).
    if (epoch && epoch.leader === this.e2e.leader) {
      for (const [line, member] of this.chatLog.due([epoch.number, epoch.leader], epoch.members)) {
        this.sendContent(line, member);
      }
    }
  }

  /**
   * Open a content frame and act on it. One sealed in an epoch whose commit has not come
   * yet (frames of different senders overtake one another around a reconnect) waits,
   * when `hold`, until the next commit or EARLY_FRAME_SECONDS (protocol §6.3).
   */
  async openContent(frame, hold) {
    const { header } = frame;
    let message;
    try {
      message = await this.e2e.open(frame, now());
    } catch (error) {
      // Sealed in an epoch newer than any held here: made while this member (now the
      // key leader) was away. The leader starts a newer one (§6.3).
      if (hold && error instanceof p.NoEpochKey && (await this.e2e.strayEpoch(frame, now()))) {
        await this.rekeyIfLeader();
      }
      const early =
        error instanceof p.NoEpochKey ||
        error instanceof p.SignatureInvalid ||
        error instanceof p.DecryptionFailed;
      if (early && this.isEarly(header)) {
        if (hold) {
          if (this.early.length >= p.limits.MAX_EARLY_FRAMES) this.early.shift();
          this.early.push({ frame, at: now() });
        }
        return false;
      }
      console.warn("relaydesk: dropped a frame from member", header.sender, error.message);
      return true;
    }
    this.content(header, message);
    return true;
  }

  /** Sealed in an epoch not held: above the current one, or a stand-in's number (§6.2). */
  isEarly(header) {
    const current = this.e2e.current;
    if (!current || header.epoch > current.number) return true;
    return header.epoch === current.number && current.leader !== this.e2e.leader;
  }

  async retryEarly() {
    const waiting = this.early;
    this.early = [];
    for (const held of waiting) {
      if (!(await this.openContent(held.frame, false))) this.early.push(held);
    }
  }

  expireEarly() {
    const limit = now() - p.limits.EARLY_FRAME_SECONDS;
    while (this.early.length > 0 && this.early[0].at < limit) {
      const { frame } = this.early.shift();
      console.warn("relaydesk: dropped a frame whose epoch key never came, from", frame.header.sender);
    }
  }

  content(header, message) {
    switch (message.type) {
      case p.FrameType.CHAT:
        // The relay enforces the chat rule; a line it should not have forwarded is dropped.
        if (!this.chatAllowed(header.sender, header.target)) {
          console.warn("relaydesk: dropped a chat line the chat rule forbids, from", header.sender);
          break;
        }
        if (!this.chatLog.firstShowing(header.sender, message)) break; // sent again, shown already
        this.emit("chat", {
          from: header.sender,
          name: this.names.get(header.sender) ?? `member ${header.sender}`,
          text: message.text,
          private: header.target !== p.EVERYONE && !message.toEveryone,
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
      case p.FrameType.VIDEO_FRAME:
        if (header.sender === this.presenter) this.emit("video", { frame: message });
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
    this.memberRules.set(ticket.memberId, Number(ticket.rules ?? 0));
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

  /** Who records, as people are told: "you", a name, or (in the lobby, where names
   * are not known yet) "A host". */
  recorderName(memberId) {
    if (memberId === this.memberId) return "You";
    return this.names.get(memberId) ?? "A host";
  }

  nameOf(memberId) {
    return this.names.get(memberId) ?? this.lobby.get(memberId)?.name ?? `member ${memberId}`;
  }

  /** The name of the relay this member meant to reach, as the join answer gives it
   * (the ticket's home relay when the answer lists none): what HELLO signs (§7.1). */
  relayName() {
    const relay = this.relays.find((known) => known.wss_url === this.relayUrl);
    return relay?.name ?? p.readTicket(this.ticket).ticket.relay;
  }

  async control(header, message) {
    const T = p.FrameType;
    switch (message.type) {
      case T.CHALLENGE: {
        if (this.helloSent) return; // one HELLO a link
        this.helloSent = true;
        const proof = await p.proveHello(this.keys.signing.privateKey, message.nonce, this.ticket, this.relayName());
        this.sendControl({ type: T.HELLO, ticket: this.ticket, proof });
        return;
      }
      case T.ROSTER: {
        this.attempt = 0;
        this.status(this.connectedBefore ? "Reconnected" : "Connected", true);
        // After a move to a new home relay a host sets again what it cannot know (§11).
        const newHome = this.e2e.current !== null && Boolean(this.homeMoved);
        this.homeMoved = false;
        const carried = {
          locked: this.locked,
          permissions: this.permissions,
          wereHere: [...this.roles.keys()].filter((id) => id !== this.memberId),
        };
        this.e2e.noteEpoch(message.epoch);
        this.locked = Boolean(message.locked);
        this.permissions = { chat: p.ChatRule.EVERYONE, annotators: [], maySave: true, mayRecord: false };
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
        this.recorder = message.recording ?? 0;
        this.emit("recording", { recorder: this.recorder });
        this.setControlHolder(message.controlHolder, 0);
        if (!this.admitted || this.waiting) {
          this.admitted = true;
          this.waiting = 0;
          this.emit("admitted");
        }
        this.emit("roster");
        if (newHome && this.isHost) this.carryControls(carried);
        // After a reconnect the key leader commits anew, as the Python client does: a
        // new home never saw its epoch, and a stand-in's epoch may wait for it.
        await this.rekeyIfLeader(this.e2e.current !== null);
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
      case T.RECORDING: {
        // Told to everyone, the lobby too: who records, and when it stops (§3.23).
        const { memberId, active } = message;
        if (!active && this.recorder !== memberId) break;
        this.recorder = active ? memberId : 0;
        this.emit("recording", { recorder: this.recorder });
        this.emit("roster");
        const who = this.recorderName(memberId);
        this.emit("notice", {
          text: active ? `${who} started recording this session` : `${who} stopped recording`,
        });
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
        this.emit("notice", {
          text: message.code === p.CloseCode.SITE_POLICY
            ? `Refused by the server's policy: ${message.text}.` : message.text,
        });
        this.emit("roster");
        break;
      default:
        break;
    }
  }
}
