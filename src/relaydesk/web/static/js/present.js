// Presenting from the browser (docs/meetings.md, docs/screen.md): the consent question in
// the page, the browser's own screen picker (getDisplayMedia), and the share loop that
// turns captured frames into sealed SCREEN_UPDATE messages (js/screencast.js encodes).
//
// Consent (docs/protocol.md §8): a member asked to present sees the question and must
// press Allow, then pick what to share in the browser's picker; only then is "yes" sent.
// Decline, a closed picker or no answer within the relay's timeout is "no", and nothing
// is captured or sent. A host's "Present my screen" is its own consent (the take-back
// rule). Nothing is sent before the relay's GRANT names this member, and sending stops
// the moment this member no longer presents. Remote control needs the relaydesk app:
// a browser cannot move the mouse or type on its own computer.

import { $ } from "./dom.js";
import { ConsentKind, ConsentResult, EVERYONE, Flags, FrameType, RevokeReason } from "./protocol/index.js";
import { SCREEN_FPS, encodeUpdates, rgbaToBgrx, sameBytes } from "./screencast.js";

const INTERVAL_MS = 1000 / SCREEN_FPS;
const MAX_SIDE = { width: 1920, height: 1080 }; // what the capture is scaled down to, at most
export const CONTROL_NEEDS_APP =
  "Remote control needs the relaydesk app: from a browser, others can watch your screen but not control it.";

/** What the browser's picker is asked for: video only, at most SCREEN_FPS and 1080p. */
export const CAPTURE_OPTIONS = Object.freeze({
  video: { frameRate: { max: SCREEN_FPS }, width: { max: MAX_SIDE.width }, height: { max: MAX_SIDE.height } },
  audio: false,
});

/** Why a capture could not start, as a sentence. */
export function captureFailure(error) {
  const name = error?.name ?? "";
  if (name === "NotAllowedError" || name === "AbortError") {
    return "No screen was chosen in the browser's picker, so nothing is shared.";
  }
  if (name === "NotFoundError" || name === "NotReadableError") {
    return "The browser could not capture a screen here, so nothing is shared.";
  }
  if (typeof navigator === "undefined" || !navigator.mediaDevices?.getDisplayMedia) {
    return "This browser cannot share a screen. Join with the relaydesk app to present.";
  }
  return `The screen could not be captured (${error?.message || name || "unknown error"}), so nothing is shared.`;
}

/**
 * Frames of a MediaStream video track, at most SCREEN_FPS a second, drawn into a canvas
 * and handed on as BGRX. MediaStreamTrackProcessor where there is one (it delivers a
 * frame when the picture changes, and keeps running in a background tab), else a video
 * element polled on a timer.
 */
class FrameReader {
  constructor(track, onPicture) {
    this.track = track;
    this.onPicture = onPicture;
    this.stopped = false;
    this.last = -Infinity;
    this.pending = null; // a frame that came too soon after the previous one
    this.timer = 0;
    this.canvas = typeof OffscreenCanvas === "function" ? new OffscreenCanvas(1, 1) : document.createElement("canvas");
    this.context = this.canvas.getContext("2d", { alpha: false, willReadFrequently: true });
  }

  start() {
    if (typeof MediaStreamTrackProcessor === "function") {
      const processor = new MediaStreamTrackProcessor({ track: this.track });
      this.reader = processor.readable.getReader();
      this.readFrames();
    } else {
      this.video = document.createElement("video");
      this.video.muted = true;
      this.video.srcObject = new MediaStream([this.track]);
      this.video.play().catch(() => {});
      this.timer = setInterval(() => this.take(this.video), INTERVAL_MS);
    }
  }

  async readFrames() {
    try {
      while (!this.stopped) {
        const { value, done } = await this.reader.read();
        if (done) break;
        this.offer(value);
      }
    } catch {
      // the track ended
    }
  }

  offer(frame) {
    if (this.stopped) {
      frame.close();
      return;
    }
    this.pending?.close();
    this.pending = null;
    const wait = this.last + INTERVAL_MS - performance.now();
    if (wait > 0) {
      this.pending = frame; // drawn when its time comes, unless a newer one replaces it
      clearTimeout(this.timer);
      this.timer = setTimeout(() => {
        const held = this.pending;
        this.pending = null;
        if (held) this.offer(held);
      }, wait);
      return;
    }
    try {
      this.take(frame);
    } finally {
      frame.close();
    }
  }

  take(source) {
    const width = source.displayWidth ?? source.videoWidth;
    const height = source.displayHeight ?? source.videoHeight;
    if (this.stopped || !width || !height) return;
    this.last = performance.now();
    if (this.canvas.width !== width || this.canvas.height !== height) {
      this.canvas.width = width;
      this.canvas.height = height;
    }
    this.context.drawImage(source, 0, 0, width, height);
    const { data } = this.context.getImageData(0, 0, width, height);
    if (this.seen && sameBytes(this.seen, data)) return; // a frame with nothing new
    this.seen = data;
    this.onPicture({ pixels: rgbaToBgrx(data), width, height });
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    clearInterval(this.timer);
    this.pending?.close();
    this.pending = null;
    this.reader?.cancel().catch(() => {});
    if (this.video) this.video.srcObject = null;
  }
}

/**
 * One browser share: the stream the person picked, sent while the relay says this
 * member presents. `sent` is what every viewer has; a REFRESH gets a full picture alone.
 */
export class BrowserShare {
  constructor(link, stream, onEnded) {
    this.link = link;
    this.stream = stream;
    this.onEnded = onEnded;
    this.latest = null; // the newest captured picture {pixels, width, height}
    this.sent = null; // the picture every viewer has now
    this.refreshFor = new Set();
    this.busy = false;
    this.again = false;
    this.ended = false;
    this.updatesSent = 0;
    const [track] = stream.getVideoTracks();
    this.track = track;
    track.addEventListener("ended", () => this.end("ended"));
    this.reader = new FrameReader(track, (picture) => {
      this.latest = picture;
      this.kick();
    });
    this.reader.start();
  }

  get presenting() {
    return this.link.presenter === this.link.memberId && this.link.memberId !== 0;
  }

  wantRefresh(memberId) {
    this.refreshFor.add(memberId);
    this.kick();
  }

  /** Send what changed (and answer refreshes), one pass at a time. */
  kick() {
    if (this.busy) {
      this.again = true;
      return;
    }
    this.busy = true;
    this.pass().catch((error) => console.warn("relaydesk: screen not sent:", error.message))
      .finally(() => {
        this.busy = false;
        if (this.again && !this.ended) {
          this.again = false;
          this.kick();
        }
      });
  }

  async pass() {
    const epoch = this.link.e2e?.current;
    if (this.ended || !this.presenting || !epoch) return;
    const picture = this.latest;
    if (!picture) return;
    if (picture !== this.sent) {
      const before = this.sent;
      const same = before && before.width === picture.width && before.height === picture.height;
      const updates = await encodeUpdates(same ? before.pixels : null, picture.pixels, picture.width, picture.height);
      await this.send(updates, EVERYONE);
      this.sent = picture;
    }
    const ready = [...this.refreshFor].filter((id) => epoch.members.has(id));
    if (!ready.length || !this.sent) return;
    const { pixels, width, height } = this.sent;
    const full = await encodeUpdates(null, pixels, width, height);
    for (const memberId of ready) {
      if (!this.presenting) return;
      await this.send(full, memberId);
      this.refreshFor.delete(memberId);
    }
  }

  async send(updates, target) {
    for (const update of updates) {
      if (!this.presenting || this.ended) return;
      await this.link.sendContent(update, target, update.full ? Flags.KEYFRAME : Flags.NONE);
      this.updatesSent += 1;
    }
  }

  /** Stop capturing; tell the relay when this member still presents. */
  end(why) {
    if (this.ended) return;
    this.ended = true;
    this.reader.stop();
    for (const track of this.stream.getTracks()) track.stop();
    if (this.presenting) {
      this.link.sendControl({
        type: FrameType.REVOKE, kind: ConsentKind.PRESENT, memberId: this.link.memberId,
        reason: RevokeReason.BY_PRESENTER,
      });
    }
    this.onEnded?.(why);
  }
}

/**
 * The page's side of presenting: the consent question, "Present my screen" for a host,
 * the "You are presenting" banner. `note(text)` adds a line to the chat log.
 */
export class Presenting {
  constructor(link, note) {
    this.link = link;
    this.note = note;
    this.share = null;
    this.askedBy = 0; // the open question's asker, 0 when none
    this.starting = false; // a share waits for the relay's GRANT
    this.wasPresenting = false;
  }

  wire() {
    const { link } = this;
    $("present-allow").addEventListener("click", () => this.allow());
    $("present-decline").addEventListener("click", () => this.decline());
    $("present-self").addEventListener("click", () => this.presentSelf());
    $("present-stop").addEventListener("click", () => this.stop("stopped"));
    link.addEventListener("refresh", (e) => this.share?.wantRefresh(e.detail.memberId));
    link.addEventListener("roster", () => this.update());
    link.addEventListener("code", () => this.share?.kick());
    link.addEventListener("consent", (e) => this.outcome(e.detail));
    link.addEventListener("ended", () => this.stop("left"));
  }

  /** A CONSENT_PROMPT PRESENT: the question, until an answer or the relay's timeout. */
  ask(askedBy) {
    this.askedBy = askedBy;
    $("present-question").textContent =
      `${this.link.nameOf(askedBy)} asks you to show your screen to everyone. Allow?`;
    $("present-consent").hidden = false;
    $("present-allow").focus();
  }

  closeQuestion() {
    this.askedBy = 0;
    $("present-consent").hidden = true;
  }

  decline() {
    if (!this.askedBy) return;
    this.closeQuestion();
    this.link.answer(ConsentKind.PRESENT, false);
  }

  /** Allow: the browser's picker (this click is the user gesture it needs), then yes. */
  async allow() {
    if (!this.askedBy) return;
    $("present-consent").hidden = true;
    let stream;
    try {
      stream = await this.pick();
    } catch (error) {
      if (this.askedBy) {
        this.closeQuestion();
        this.link.answer(ConsentKind.PRESENT, false);
        this.note(`${captureFailure(error)} Answered no.`);
      }
      return;
    }
    if (!this.askedBy) { // the question ended while the picker was open (timed out)
      for (const track of stream.getTracks()) track.stop();
      this.note("The question had already ended, so your screen is not shared.");
      return;
    }
    this.closeQuestion();
    this.begin(stream);
    this.link.answer(ConsentKind.PRESENT, true);
  }

  /** A host presents: its own request is its consent (take-back rule, §8). */
  async presentSelf() {
    if (this.share) return;
    let stream;
    try {
      stream = await this.pick();
    } catch (error) {
      this.note(captureFailure(error));
      return;
    }
    this.begin(stream);
    this.link.sendControl({ type: FrameType.PRESENTER_REQUEST, memberId: this.link.memberId });
  }

  pick() {
    if (!navigator.mediaDevices?.getDisplayMedia) return Promise.reject(new Error("no getDisplayMedia"));
    return navigator.mediaDevices.getDisplayMedia(CAPTURE_OPTIONS);
  }

  begin(stream) {
    this.share?.end("replaced");
    this.starting = true;
    this.share = new BrowserShare(this.link, stream, (why) => this.ended(why));
    this.update();
  }

  ended(why) {
    this.share = null;
    this.starting = false;
    if (why === "ended") this.note("You stopped sharing in the browser: your screen is no longer shown.");
    else if (why === "stopped") this.note("You stopped presenting.");
    this.render();
  }

  stop(why) {
    this.share?.end(why);
  }

  outcome({ kind, subject, result }) {
    if (kind !== ConsentKind.PRESENT || subject !== this.link.memberId) return;
    if (this.askedBy) this.closeQuestion(); // timed out or cancelled while unanswered
    if (result !== ConsentResult.GRANTED && this.share && this.starting) this.share.end("refused");
  }

  /** Follow the relay: sharing starts with GRANT, and stops when another presents. */
  update() {
    const me = this.link.presenter === this.link.memberId && this.link.memberId !== 0;
    if (me) this.starting = false;
    if (this.share) {
      if (me) {
        this.share.kick();
      } else if (!this.starting) {
        // someone else presents now, or a host stopped the share for everyone
        this.share.end("revoked");
        if (this.wasPresenting) this.note("Your screen is no longer shared.");
      }
    }
    this.wasPresenting = me && Boolean(this.share);
    this.render();
  }

  render() {
    const { link } = this;
    const me = link.presenter === link.memberId && link.memberId !== 0;
    $("presenting-banner").hidden = !this.share;
    $("presenting-text").textContent = me
      ? "You are presenting: everyone sees what you share."
      : "Starting to present…";
    // The site's policy may turn presenting off for this member's ticket (§7.2).
    $("present-self").hidden = !(link.isHost && !me && !this.share && link.mayPresent(link.memberId));
  }

  /** A CONSENT_PROMPT CONTROL for a browser presenter: no, and why. */
  refuseControl(askedBy) {
    this.link.answer(ConsentKind.CONTROL, false);
    this.note(`${this.link.nameOf(askedBy)} asked to control your screen: answered no. ${CONTROL_NEEDS_APP}`);
  }
}
