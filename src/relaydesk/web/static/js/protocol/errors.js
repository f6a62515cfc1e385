// Errors of the relaydesk protocol: the same names, tree and close codes as the Python
// side (src/relaydesk/errors.py, docs/protocol.md §9).
//
//   RelaydeskError
//   ├── ProtocolError               4000  the peer broke the wire format
//   │   ├── FrameError              4000  bad header, version, type, flags or length
//   │   │   └── FrameTooLarge       4001  a declared length above a limit
//   │   └── MessageError            4002  a body that does not decode to its message type
//   │       └── TileError           4002  a screen tile outside the picture (§4.1)
//   └── CryptoError                 4007  the end-to-end layer refused something
//       ├── TicketError             4003  a join ticket is not valid here
//       │   ├── TicketSignatureInvalid
//       │   ├── TicketExpired
//       │   ├── TicketWrongSession
//       │   └── HelloProofInvalid
//       ├── CommitRejected          4007  a key commit that must not be applied
//       ├── NoEpochKey              4007  no key for that epoch (never had it, or it expired)
//       ├── DecryptionFailed        4007  a changed bit, or the wrong key
//       ├── SignatureInvalid        4007  not signed by the member it claims to come from
//       └── ReplayDetected          4007  a sequence number already seen (or older)
//
// These are thrown for bad input from the network. Misuse of the API by the caller
// (a message with a field out of range, a control type given to seal, ...) throws the
// built-in TypeError instead: it is a bug in the calling code, not the peer's fault.

/** WebSocket close codes; 4000-4999 are the private-use range (§9). */
export const CloseCode = Object.freeze({
  NORMAL: 1000,
  PROTOCOL_ERROR: 4000,
  FRAME_TOO_LARGE: 4001,
  BAD_MESSAGE: 4002,
  BAD_TICKET: 4003,
  NOT_PERMITTED: 4004,
  EXPELLED: 4005,
  SESSION_ENDED: 4006,
  CRYPTO_ERROR: 4007,
  RATE_LIMITED: 4008,
  SLOW_CONSUMER: 4009,
  REFUSED_ENTRY: 4010, // a host refused this member entry from the lobby (final)
  MOVED: 4011, // the session now lives on another relay: refresh the ticket, reconnect
  SITE_POLICY: 4012, // the site's policy forbids this member that action (ERROR only)
});

/** Root of every error the protocol library throws on purpose. */
export class RelaydeskError extends Error {
  /** The close code a connection is closed with because of this error (§9). */
  static closeCode = CloseCode.PROTOCOL_ERROR;

  /** @param {string} [message] */
  constructor(message) {
    super(message);
    // Explicit names (not constructor.name) so that they survive any minifier.
    this.name = /** @type {typeof RelaydeskError} */ (new.target).errorName;
  }

  /** @type {string} */
  static errorName = "RelaydeskError";

  /** @returns {number} */
  get closeCode() {
    return /** @type {typeof RelaydeskError} */ (this.constructor).closeCode;
  }
}

/** The other side sent something that is not relaydesk protocol. */
export class ProtocolError extends RelaydeskError {
  static errorName = "ProtocolError";
}

/** A frame header was malformed: wrong version, unknown type or flag, inconsistent length. */
export class FrameError extends ProtocolError {
  static errorName = "FrameError";
}

/** A frame announced a body above its limit; nothing of the body was buffered. */
export class FrameTooLarge extends FrameError {
  static errorName = "FrameTooLarge";
  static closeCode = CloseCode.FRAME_TOO_LARGE;
}

/** A message body did not decode to the message its frame type names. */
export class MessageError extends ProtocolError {
  static errorName = "MessageError";
  static closeCode = CloseCode.BAD_MESSAGE;
}

/** A screen update cannot be applied to the picture (docs/screen.md; for the UI layer). */
export class TileError extends MessageError {
  static errorName = "TileError";
}

/** The end-to-end encryption layer refused a message, key or ticket. */
export class CryptoError extends RelaydeskError {
  static errorName = "CryptoError";
  static closeCode = CloseCode.CRYPTO_ERROR;
}

/** A join ticket cannot be accepted. Ask the server for a new one by joining again. */
export class TicketError extends CryptoError {
  static errorName = "TicketError";
  static closeCode = CloseCode.BAD_TICKET;
}

/** The ticket was not signed by this server's broker key (forged, altered or foreign). */
export class TicketSignatureInvalid extends TicketError {
  static errorName = "TicketSignatureInvalid";
}

/** The ticket is past its expiry time; join again to get a fresh one. */
export class TicketExpired extends TicketError {
  static errorName = "TicketExpired";
}

/** The ticket was issued for a different session. */
export class TicketWrongSession extends TicketError {
  static errorName = "TicketWrongSession";
}

/** The HELLO does not prove possession of the ticket's key (§7.1): the relay refuses it. */
export class HelloProofInvalid extends TicketError {
  static errorName = "HelloProofInvalid";
}

/**
 * A key commit was refused: not from the key leader, badly signed, stale, or naming
 * members whose keys differ from the ones this member was shown (someone tampered).
 */
export class CommitRejected extends CryptoError {
  static errorName = "CommitRejected";
}

/**
 * No content key for that epoch: this member was not given it (left, expelled, joined
 * later) or it is older than the grace period.
 */
export class NoEpochKey extends CryptoError {
  static errorName = "NoEpochKey";
}

/**
 * The message did not decrypt: a bit was changed, or it belongs to another session,
 * epoch, sender, channel or sequence number than its header claims.
 */
export class DecryptionFailed extends CryptoError {
  static errorName = "DecryptionFailed";
}

/** The message is not signed by the member its header names as sender. */
export class SignatureInvalid extends CryptoError {
  static errorName = "SignatureInvalid";
}

/** A sequence number that was already received (or an older one) came again. */
export class ReplayDetected extends CryptoError {
  static errorName = "ReplayDetected";
}
