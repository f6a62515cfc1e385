// The relaydesk protocol library for the browser client (docs/protocol.md), in one
// import; each module can also be imported on its own. Plain ES modules on WebCrypto:
// no build step, no dependencies, the same code in Chromium and in Node (the tests).
//
// How a member uses it (the Python equivalent is src/relaydesk/client/member.py):
//
//   import * as p from "./protocol/index.js";
//
//   // 1. Before joining: fresh keys; their public halves go into the join request.
//   const keys = await p.MemberKeys.generate();          // keys.agreementPublic, keys.ed25519Public
//   // the broker answers with the ticket, the session uid, the member id and its key
//   const e2e = new p.EndToEnd(sessionUid, memberId, keys, brokerPublic);
//
//   // 2. Connect to the relay; the first frame is HELLO with the ticket (§7.1).
//   let controlSequence = 0;
//   const send = (frame) => socket.send(p.serializeFrame(frame));
//   send(p.controlFrame({ type: p.FrameType.HELLO, ticket },
//                       { sessionUid, sender: memberId, sequence: ++controlSequence }));
//
//   // 3. Every binary WebSocket message is one frame.
//   const now = () => Date.now() / 1000;
//   const frame = p.parseFrame(new Uint8Array(event.data));   // FrameError: close (§9)
//   if (p.isContentType(frame.header.type)) {
//     const message = await e2e.open(frame, now());          // CryptoError / MessageError: drop it
//     // message.type: CHAT, SCREEN_UPDATE, ...; frame.header.sender sent it
//   } else {
//     const message = p.decodeMessage(frame.header.type, frame.body);
//     switch (message.type) {
//       case p.FrameType.ROSTER:                             // every member's ticket, checked here
//         e2e.noteEpoch(message.epoch);
//         for (const entry of message.members) await e2e.addMember(entry.ticket, now());
//         break;
//       case p.FrameType.MEMBER_JOINED: await e2e.addMember(message.entry.ticket, now()); break;
//       case p.FrameType.MEMBER_LEFT: e2e.removeMember(message.memberId); break;
//       case p.FrameType.KEY_COMMIT:
//         e2e.noteEpoch(frame.header.epoch);
//         await e2e.applyCommit(frame.header, message, now());   // CommitRejected: drop it
//         show(e2e.securityCode);                              // "1234 5678 9012 3456"
//         break;
//     }
//     // after ROSTER, MEMBER_JOINED, MEMBER_LEFT, and every minute or so:
//     if (e2e.needsRekey(now())) send(await e2e.startEpoch(p.randomBytes, now()));
//   }
//
//   // 4. Sending content: sealed for the current epoch (NoEpochKey before the first).
//   send(await e2e.seal({ type: p.FrameType.CHAT, text: "hello" }));            // to everyone
//   send(await e2e.seal({ type: p.FrameType.CHAT, text: "psst" }, otherMemberId)); // private

export * from "./errors.js";
export * as limits from "./limits.js";
export { concat, equalBytes, fromHex, toHex, codePointLength } from "./bytes.js";
export * from "./frames.js";
export * from "./messages.js";
export * as msgpack from "./msgpack.js";
export * as hkdf from "./hkdf.js";
export * as hpke from "./hpke.js";
export { sha3_256 } from "./sha3.js";
export { randomBytes } from "./primitives.js";
export * from "./tickets.js";
export * from "./rules.js";
export * from "./keys.js";
export * from "./e2e.js";
