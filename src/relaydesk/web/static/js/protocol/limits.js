// The limits of the relay wire, mirroring src/relaydesk/limits.py (docs/protocol.md §10).
// Parsers check a length the moment it is known, before buffering anything.

export const KIB = 1024;
export const MIB = 1024 * KIB;

// Frames (§2)
export const MAX_FRAME_BODY = 4 * MIB; // body of a content frame; a tile's data
export const MAX_CONTROL_BODY = 2 * MIB; // body of a control frame; KEY_COMMIT.content

// Sessions
export const MAX_MEMBERS = 1024;
export const MAX_ARRAY_ITEMS = 8 * MAX_MEMBERS; // any MessagePack array (§3.0)
export const MAX_DISPLAY_NAME_CHARS = 64;
export const MAX_EMAIL_CHARS = 254;
export const MAX_RELAY_URL_CHARS = 2048;
export const MAX_RELAY_NAME_CHARS = 32; // a relay's name, [a-z0-9-] (§11); CHALLENGE.relay (§3.25)
export const MAX_TICKET_BYTES = 4 * KIB;
export const MAX_ERROR_TEXT_CHARS = 500;

// Content (§4)
export const MAX_SCREEN_SIDE = 16384;
export const MAX_TILES_PER_UPDATE = 8192;
export const MAX_CHAT_CHARS = 4000;
export const MAX_TYPED_TEXT_CHARS = 1000;
export const MAX_ANNOTATION_POINTS = 4096;
export const VIDEO_LAYERS = 2; // frame n of a VIDEO_FRAME stream is in layer n % 2
export const VIDEO_REFRESH_MIN_SECONDS = 1.0; // a viewer asks again for keyframes at most this often
// Frames this much later than the fastest, VIDEO_BEHIND_FRAMES in a row: layer 0 alone;
// both again after VIDEO_CATCH_UP_SECONDS on time (the fastest looked for in the window).
export const VIDEO_BEHIND_MS = 150;
export const VIDEO_BEHIND_FRAMES = 3;
export const VIDEO_CATCH_UP_SECONDS = 3.0;
export const VIDEO_DELAY_WINDOW_SECONDS = 60.0;
export const MAX_NOTES_CHARS = 100_000;
export const MAX_FILE_CHUNK = 256 * KIB;
export const MAX_FILE_NAME_CHARS = 255;
// Files (§4.5)
export const MAX_FILE_BYTES = 2 * 1024 * MIB;
export const MAX_KEPT_NAME_CHARS = 120;
export const FILE_WINDOW_BYTES = 4 * MIB;
export const FILE_ACK_BYTES = 1 * MIB;
export const MAX_FILE_TRANSFERS_PER_PEER = 4;
export const BROWSER_MAX_FILE_BYTES = 512 * MIB; // a received file is held in memory
export const MAX_WHEEL_STEPS = 100; // wheel steps of one input event, each way (§4.2)
export const MAX_SCREEN_PIXELS = 32 * MIB; // for the viewer (§4.1)
export const MAX_UPDATE_AREA_FACTOR = 2; // for the viewer (§4.1)

// Keys and epochs (§6)
export const EPOCH_GRACE_SECONDS = 10;
export const MAX_STRAY_EPOCH_JUMP = 16;
export const EPOCH_MAX_AGE_SECONDS = 300;

// Consent and relay timing (§7.1, §8), for the UI
export const CONSENT_TIMEOUT_SECONDS = 30;
export const RELAY_HELLO_TIMEOUT_SECONDS = 10;

// Reconnecting and chat replay (§11)
export const RECONNECT_FIRST_DELAY_SECONDS = 0.1;
export const RECONNECT_MAX_DELAY_SECONDS = 5;
export const CHAT_REPLAY_SECONDS = 60;
export const MAX_CHAT_REPLAY_LINES = 200;
export const MAX_EARLY_FRAMES = 256;
export const EARLY_FRAME_SECONDS = 5;
export const RELOCK_WAIT_SECONDS = 10;
