// Files to and from other members, in the browser (the Python twin is
// src/relaydesk/client/files.py; docs/protocol.md §4.5, docs/meetings.md "Sending files").
//
// Every file message is sealed to ONE member on the FILE channel. The person is asked
// for every offered file (a dialog in the page: Accept / Decline; no answer in time is
// a decline). An accepted file is held in memory (at most BROWSER_MAX_FILE_BYTES), its
// SHA-256 checked against the offer's, and only then offered as a download link (the
// `download` attribute: the browser saves it, nothing is ever opened). Acknowledgements
// (FILE_ANSWER with the offset held) pace the sender: at most FILE_WINDOW_BYTES in
// flight. After a reconnect the sender offers again and the receiver answers with the
// offset it holds. Names are sanitised before they are shown or used.

import { $, el } from "./dom.js";
import { EVERYONE, FileEndReason, FrameType, equalBytes, limits, randomBytes } from "./protocol/index.js";

const RESERVED = new Set(["CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"]);
for (const device of ["COM", "LPT"]) for (const n of "0123456789¹²³") RESERVED.add(device + n);
const FORBIDDEN = /[<>:"|?*]/gu;
const CONTROL = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}]/gu;
const MAX_EXTENSION = 16;

/**
 * The name a received file may be kept under, or null when nothing usable is left:
 * the same rules as sanitize_file_name in client/files.py.
 * @param {string} name
 */
export function sanitizeFileName(name) {
  const parts = name.normalize("NFC").split(/[/\\]/);
  let kept = parts[parts.length - 1].replace(CONTROL, "").replace(FORBIDDEN, "");
  kept = kept.trim().replace(/^\.+/, "").trim().replace(/[. ]+$/, "");
  if (!kept) return null;
  const dot = kept.lastIndexOf(".");
  let stem = kept;
  let extension = "";
  if (dot > 0 && [...kept.slice(dot + 1)].length <= MAX_EXTENSION) {
    stem = kept.slice(0, dot);
    extension = kept.slice(dot);
  }
  if (RESERVED.has(stem.split(".")[0].toUpperCase())) stem = `_${stem}`;
  const room = limits.MAX_KEPT_NAME_CHARS - [...extension].length;
  stem = [...stem].slice(0, room).join("").replace(/[. ]+$/, "");
  return stem ? stem + extension : null;
}

/** 1234567 -> "1.2 MB" (decimal units, as the terminal client says it). */
export function formatSize(size) {
  if (size < 1000) return `${size} bytes`;
  let value = size;
  for (const unit of ["kB", "MB", "GB"]) {
    value /= 1000;
    if (value < 1000 || unit === "GB") return `${value.toFixed(1)} ${unit}`;
  }
  return `${size} bytes`;
}

const OVER = new Set(["complete", "declined", "cancelled", "integrity failed", "failed"]);
const END_STATES = {
  [FileEndReason.COMPLETE]: "complete",
  [FileEndReason.CANCELLED]: "cancelled",
  [FileEndReason.INTEGRITY_FAILED]: "integrity failed",
  [FileEndReason.FAILED]: "failed",
};
const END_REASONS = Object.fromEntries(Object.entries(END_STATES).map(([k, v]) => [v, Number(k)]));

async function digest(bytes) {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
}

export class FileDesk {
  /** @param {import("./session.js").SessionLink} link @param {(text: string) => void} note */
  constructor(link, note) {
    this.link = link;
    this.note = note;
    /** @type {Map<string, object>} */
    this.transfers = new Map(); // "in:SENDER:ID" or "out:PEER:ID" -> transfer
    this.offers = []; // offers waiting for the person, first shown
    this.target = 0; // the member the file picker is for
    this.connected = false;
    link.addEventListener("file", (e) => {
      this.handle(e.detail.header, e.detail.message).catch((error) => {
        console.warn("relaydesk: file message dropped:", error.message);
      });
    });
    link.addEventListener("status", (e) => {
      if (this.connected && !e.detail.connected) this.linkLost();
      this.connected = Boolean(e.detail.connected);
    });
    link.addEventListener("roster", () => this.rosterChanged());
    link.addEventListener("code", () => this.poll());
    $("file-input").addEventListener("change", () => {
      const input = $("file-input");
      const [file] = input.files;
      input.value = "";
      if (file && this.target) {
        this.sendFile(this.target, file).catch((error) => this.note(error.message));
      }
    });
    $("file-accept").addEventListener("click", () => this.decide(true));
    $("file-decline").addEventListener("click", () => this.decide(false));
  }

  name(memberId) {
    return this.link.nameOf(memberId);
  }

  /** The roster's "Send a file" button for one member. */
  sendButton(memberId, name) {
    const button = el("button", {
      type: "button", className: "secondary small", text: "Send a file",
      "aria-label": `Send a file to ${name}`,
    });
    button.addEventListener("click", () => {
      this.target = memberId;
      $("file-input").click();
    });
    return el("div", { className: "actions" }, button);
  }

  open(peer) {
    return [...this.transfers.values()].filter((t) => !OVER.has(t.state) && (peer === undefined || t.peer === peer));
  }

  send(transfer, message) {
    return this.link.sendContent(message, transfer.peer);
  }

  // Sending ------------------------------------------------------------------------------

  /** Offer `file` (a File) to `peer`; the bytes go once its person says yes. */
  async sendFile(peer, file) {
    if (file.size > limits.BROWSER_MAX_FILE_BYTES) {
      throw new Error(`${file.name} is larger than ${formatSize(limits.BROWSER_MAX_FILE_BYTES)}: the browser cannot send it.`);
    }
    if (this.open(peer).length >= limits.MAX_FILE_TRANSFERS_PER_PEER) {
      throw new Error(`Already ${limits.MAX_FILE_TRANSFERS_PER_PEER} transfers with ${this.name(peer)}: wait for one to end.`);
    }
    const bytes = new Uint8Array(await file.arrayBuffer());
    let transferId = 0;
    while (transferId === 0 || this.transfers.has(`out:${peer}:${transferId}`)) {
      const [a, b, c, d] = randomBytes(4);
      transferId = ((a << 24) | (b << 16) | (c << 8) | d) >>> 0;
    }
    const offered = [...(file.name || "file")].slice(0, limits.MAX_FILE_NAME_CHARS).join("");
    const transfer = {
      incoming: false, peer, transferId, name: offered, size: bytes.length,
      sha256: await digest(bytes), bytes, state: "offered", done: 0, sent: 0, offers: 0,
      lostEpoch: null, wake: null,
    };
    this.transfers.set(`out:${peer}:${transferId}`, transfer);
    this.show(transfer, "waiting for their answer…");
    await this.offer(transfer);
    this.note(`Offered ${offered} (${formatSize(transfer.size)}) to ${this.name(peer)}.`);
    return transfer;
  }

  async offer(transfer) {
    transfer.offers += 1;
    transfer.state = "offered";
    await this.send(transfer, {
      type: FrameType.FILE_OFFER, transferId: transfer.transferId, name: transfer.name,
      size: transfer.size, sha256: transfer.sha256, chunkSize: limits.MAX_FILE_CHUNK,
    });
  }

  async pump(transfer, start) {
    const run = (transfer.run = (transfer.run ?? 0) + 1);
    let offset = start;
    try {
      while (offset < transfer.size && transfer.state === "active" && transfer.run === run) {
        offset = Math.max(offset, transfer.done); // the receiver may hold more already
        if (offset - transfer.done >= limits.FILE_WINDOW_BYTES) {
          await new Promise((resolve) => { transfer.wake = resolve; });
          continue;
        }
        const end = Math.min(offset + limits.MAX_FILE_CHUNK, transfer.size);
        await this.send(transfer, {
          type: FrameType.FILE_CHUNK, transferId: transfer.transferId, offset,
          data: transfer.bytes.subarray(offset, end),
        });
        transfer.sent += end - offset;
        offset = end;
      }
    } catch (error) {
      console.warn("relaydesk: file sending stopped:", error.message);
    }
  }

  wake(transfer) {
    const resolve = transfer.wake;
    transfer.wake = null;
    resolve?.();
  }

  answered(transfer, answer) {
    if (!answer.accepted) {
      if (transfer.state === "offered") this.finish(transfer, "declined", `${this.name(transfer.peer)} declined ${transfer.name}.`);
      return;
    }
    if (answer.offset > transfer.size) return;
    if (transfer.state === "offered") {
      transfer.state = "active";
      transfer.done = answer.offset;
      if (transfer.offers > 1) transfer.resumedAt = answer.offset;
      this.show(transfer, transfer.offers > 1 ? `resuming at ${formatSize(answer.offset)}` : "sending…");
      this.pump(transfer, answer.offset);
    } else if (transfer.state === "active" && answer.offset > transfer.done) {
      transfer.done = answer.offset;
      this.wake(transfer);
      this.show(transfer, "sending…");
    }
  }

  // Receiving ----------------------------------------------------------------------------

  async offered(sender, offer) {
    const key = `in:${sender}:${offer.transferId}`;
    const known = this.transfers.get(key);
    if (known && !OVER.has(known.state)) {
      if (equalBytes(known.sha256, offer.sha256) && known.size === offer.size && known.state !== "offered") {
        known.state = "active"; // offered again after a reconnect: resume
        known.resumedAt = known.done;
        this.show(known, `resuming at ${formatSize(known.done)}`);
        await this.acknowledge(known);
      } else if (!equalBytes(known.sha256, offer.sha256)) {
        await this.decline(sender, offer.transferId);
      }
      return;
    }
    const name = sanitizeFileName(offer.name);
    if (name === null) {
      this.note(`${this.name(sender)} offered a file whose name cannot be used: refused.`);
      await this.decline(sender, offer.transferId);
      return;
    }
    if (offer.size > limits.BROWSER_MAX_FILE_BYTES) {
      this.note(`${this.name(sender)} offered ${name} (${formatSize(offer.size)}): too large for the browser, declined. Join with the relaydesk app to receive it.`);
      await this.decline(sender, offer.transferId);
      return;
    }
    if (this.open(sender).length >= limits.MAX_FILE_TRANSFERS_PER_PEER) {
      await this.decline(sender, offer.transferId);
      return;
    }
    const transfer = {
      incoming: true, peer: sender, transferId: offer.transferId, name, size: offer.size,
      sha256: offer.sha256, chunks: [], state: "offered", done: 0, acked: 0, offers: 1,
    };
    this.transfers.set(key, transfer);
    this.offers.push(transfer);
    if (this.offers.length === 1) this.ask(transfer);
  }

  /** The dialog in the page: who sends what, how large; Accept or Decline. */
  ask(transfer) {
    $("file-offer-text").textContent =
      `${this.name(transfer.peer)} wants to send you ${transfer.name} (${formatSize(transfer.size)}).`;
    $("file-offer").hidden = false;
    $("file-accept").focus();
    clearTimeout(this.askTimer);
    this.askTimer = setTimeout(() => this.decide(false, "No answer in time: declined."), limits.CONSENT_TIMEOUT_SECONDS * 1000);
  }

  decide(accepted, why = "") {
    clearTimeout(this.askTimer);
    const transfer = this.offers.shift();
    $("file-offer").hidden = true;
    if (this.offers.length) this.ask(this.offers[0]);
    if (!transfer || transfer.state !== "offered") return;
    if (!accepted) {
      transfer.state = "declined";
      this.note(why || `You declined ${transfer.name}.`);
      this.decline(transfer.peer, transfer.transferId);
      return;
    }
    transfer.state = "active";
    this.show(transfer, "receiving…");
    this.acknowledge(transfer).then(() => (transfer.size === 0 ? this.check(transfer) : null));
  }

  decline(sender, transferId) {
    return this.link.sendContent({ type: FrameType.FILE_ANSWER, transferId, accepted: false, offset: 0 }, sender)
      .catch(() => {});
  }

  acknowledge(transfer) {
    transfer.acked = transfer.done;
    return this.send(transfer, {
      type: FrameType.FILE_ANSWER, transferId: transfer.transferId, accepted: true, offset: transfer.done,
    }).catch(() => {});
  }

  async chunk(transfer, chunk) {
    if (transfer.state !== "active") return;
    if (chunk.offset + chunk.data.length <= transfer.done) {
      // Held already: sent again after a resume from a stale answer. Say what is held, once.
      if (transfer.dupAcked !== transfer.done) {
        transfer.dupAcked = transfer.done;
        await this.acknowledge(transfer);
      }
      return;
    }
    if (chunk.offset !== transfer.done || transfer.done + chunk.data.length > transfer.size) {
      await this.end(transfer, "failed", `${transfer.name}: a chunk does not follow what was received: nothing kept.`);
      return;
    }
    transfer.chunks.push(chunk.data.slice());
    transfer.done += chunk.data.length;
    if (transfer.done === transfer.size) await this.check(transfer);
    else {
      this.show(transfer, "receiving…");
      if (transfer.done - transfer.acked >= limits.FILE_ACK_BYTES) await this.acknowledge(transfer);
    }
  }

  async check(transfer) {
    const blob = new Blob(transfer.chunks, { type: "application/octet-stream" });
    transfer.chunks = [];
    const actual = await digest(await blob.arrayBuffer());
    if (!equalBytes(actual, transfer.sha256)) {
      await this.end(transfer, "integrity failed",
        `${transfer.name} from ${this.name(transfer.peer)} does not match its SHA-256: discarded, nothing kept.`);
      return;
    }
    transfer.url = URL.createObjectURL(blob);
    await this.end(transfer, "complete",
      `Received ${transfer.name} (${formatSize(transfer.size)}) from ${this.name(transfer.peer)}, SHA-256 checked.`);
  }

  // Both ways ----------------------------------------------------------------------------

  finish(transfer, state, text) {
    transfer.state = state;
    if (state !== "complete") {
      transfer.chunks = [];
      transfer.bytes = null;
    }
    this.wake(transfer);
    if (text) this.note(text);
    this.show(transfer, state === "complete" ? (transfer.incoming ? "SHA-256 checked" : "delivered, SHA-256 checked") : state);
  }

  async end(transfer, state, text) {
    this.finish(transfer, state, text);
    await this.send(transfer, { type: FrameType.FILE_END, transferId: transfer.transferId, reason: END_REASONS[state] })
      .catch(() => {});
  }

  ended(transfer, reason) {
    const who = this.name(transfer.peer);
    const state = END_STATES[reason];
    if (transfer.incoming && reason === FileEndReason.COMPLETE) return;
    if (!transfer.incoming && reason === FileEndReason.COMPLETE) transfer.done = transfer.size;
    const texts = {
      complete: `${who} received ${transfer.name}: SHA-256 checked.`,
      cancelled: `${who} cancelled ${transfer.name}.`,
      "integrity failed": `${who} got ${transfer.name} with a wrong SHA-256: nothing was kept.`,
      failed: `${who} could not take ${transfer.name}.`,
    };
    this.finish(transfer, state, texts[state]);
  }

  cancel(transfer) {
    if (OVER.has(transfer.state)) return;
    this.end(transfer, "cancelled", `Cancelled ${transfer.name}.`);
  }

  interrupt(transfer) {
    transfer.state = "interrupted";
    transfer.lostEpoch = this.link.e2e?.current?.number ?? 0;
    this.wake(transfer);
    this.show(transfer, "interrupted: resumes when you are both back");
  }

  linkLost() {
    for (const transfer of this.open()) {
      if (transfer.state === "active" || !transfer.incoming) {
        this.interrupt(transfer);
        transfer.lostEpoch = -1; // this side's link: resume once back with keys
      }
    }
  }

  rosterChanged() {
    for (const transfer of this.open()) {
      if (!this.link.roles.has(transfer.peer) && transfer.state !== "interrupted") {
        if (transfer.incoming && transfer.state === "offered") this.finish(transfer, "cancelled", null);
        else this.interrupt(transfer);
      }
    }
    this.poll();
  }

  /** Offer again what was interrupted, once both hold a newer epoch's keys. */
  poll() {
    if (!this.connected) return;
    const epoch = this.link.e2e?.current;
    for (const transfer of this.open()) {
      // A new epoch: say again what is held (an answer the sender could not open is lost).
      if (transfer.incoming && transfer.state !== "offered" && epoch?.members.has(transfer.peer)
          && epoch.number !== transfer.ackedEpoch) {
        transfer.ackedEpoch = epoch.number;
        transfer.state = "active";
        this.acknowledge(transfer);
        continue;
      }
      if (transfer.incoming || transfer.state !== "interrupted" || !epoch) continue;
      if (epoch.number <= transfer.lostEpoch || !epoch.members.has(transfer.peer)) continue;
      if (!epoch.members.has(this.link.memberId)) continue;
      this.offer(transfer).catch(() => { transfer.state = "interrupted"; });
    }
  }

  async handle(header, message) {
    if (header.target !== this.link.memberId || header.target === EVERYONE) {
      console.warn("relaydesk: dropped a file message not sent to this member alone, from", header.sender);
      this.note(`Dropped a file message from ${this.name(header.sender)} that was not sent to you alone.`);
      return;
    }
    const sender = header.sender;
    if (message.type === FrameType.FILE_OFFER) {
      await this.offered(sender, message);
      return;
    }
    const incoming = message.type !== FrameType.FILE_ANSWER;
    let transfer = this.transfers.get(`${incoming ? "in" : "out"}:${sender}:${message.transferId}`);
    if (!transfer && message.type === FrameType.FILE_END) {
      transfer = this.transfers.get(`out:${sender}:${message.transferId}`);
    }
    if (!transfer || OVER.has(transfer.state)) return;
    if (message.type === FrameType.FILE_CHUNK) await this.chunk(transfer, message);
    else if (message.type === FrameType.FILE_ANSWER) this.answered(transfer, message);
    else if (message.type === FrameType.FILE_END) this.ended(transfer, message.reason);
  }

  // The panel ----------------------------------------------------------------------------

  /** One row per transfer: name, who, a <progress>, what is happening; a link once kept. */
  show(transfer, text) {
    $("files-panel").hidden = false;
    if (!transfer.row) {
      const way = transfer.incoming ? `from ${this.name(transfer.peer)}` : `to ${this.name(transfer.peer)}`;
      transfer.progress = el("progress", { max: String(Math.max(transfer.size, 1)), value: "0",
        "aria-label": `${transfer.name} ${way}` });
      transfer.status = el("span", { className: "file-status" });
      transfer.cancelButton = el("button", { type: "button", className: "secondary small", text: "Cancel",
        "aria-label": `Cancel ${transfer.name}` });
      transfer.cancelButton.addEventListener("click", () => this.cancel(transfer));
      transfer.row = el("li", { className: "file", "data-transfer": transfer.transferId.toString(16).padStart(8, "0") },
        el("div", { className: "file-head" }, el("span", { className: "file-name", text: transfer.name }),
          el("span", { className: "file-way", text: `${way} · ${formatSize(transfer.size)}` })),
        transfer.progress, el("div", { className: "file-foot" }, transfer.status, transfer.cancelButton));
      $("files").append(transfer.row);
    }
    transfer.progress.value = transfer.size ? transfer.done : (OVER.has(transfer.state) ? 1 : 0);
    transfer.status.textContent = text;
    transfer.cancelButton.hidden = OVER.has(transfer.state);
    if (transfer.url && !transfer.link) {
      // A download link: the browser saves the file when the person clicks; never opened here.
      transfer.link = el("a", { href: transfer.url, download: transfer.name, className: "file-save",
        text: `Save ${transfer.name}`, rel: "noopener" });
      transfer.row.append(transfer.link);
    }
  }
}
