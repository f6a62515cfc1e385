"""Every size, count, rate and time limit of relaydesk, in one place for review.

Parsers check these the moment a length is known, before buffering (docs/protocol.md §2).
"""

from __future__ import annotations

KIB = 1024
MIB = 1024 * KIB

# Frames (docs/protocol.md §2)
MAX_FRAME_BODY = 4 * MIB  # a screen update larger than this is split by the encoder
MAX_CONTROL_BODY = 1 * MIB  # a roster of MAX_MEMBERS tickets or a commit for them fits

# Sessions
MAX_MEMBERS = 1024
MAX_DISPLAY_NAME_CHARS = 64
MAX_EMAIL_CHARS = 254
MAX_RELAY_URL_CHARS = 2048
MAX_TICKET_BYTES = 4 * KIB
MAX_ERROR_TEXT_CHARS = 500

# Content
MAX_SCREEN_SIDE = 16384  # pixels, width or height
MAX_TILES_PER_UPDATE = 8192
MAX_CHAT_CHARS = 4000
MAX_TYPED_TEXT_CHARS = 1000
MAX_ANNOTATION_POINTS = 4096
MAX_NOTES_CHARS = 100_000  # the host's notes, sent once at the end (NOTES)
MAX_FILE_CHUNK = 256 * KIB  # the chunk size a sender uses, and the most a receiver takes
MAX_FILE_NAME_CHARS = 255  # an offered name; the name a receiver keeps is shorter still

# Files (docs/protocol.md §4.5, docs/meetings.md "Sending files")
MAX_FILE_BYTES = 2 * 1024 * MIB  # the largest file one transfer carries (2 GiB)
MAX_KEPT_NAME_CHARS = 120  # a sanitised name is cut to this (its extension kept)
FILE_WINDOW_BYTES = 4 * MIB  # unacknowledged bytes a sender keeps in flight, per transfer
FILE_ACK_BYTES = 1 * MIB  # a receiver acknowledges (FILE_ANSWER) at least this often
MAX_FILE_TRANSFERS_PER_PEER = 4  # open transfers between one sender and one receiver
# MAX_FILE_TRANSFERS_PER_PEER x (FILE_WINDOW_BYTES + a chunk) stays well below the
# relay's per-receiver RELAY_TOTAL_BACKLOG: a paced sender never fills it.
BROWSER_MAX_FILE_BYTES = 512 * MIB  # the browser holds a received file in memory

# Keys and epochs (docs/protocol.md §6)
EPOCH_GRACE_SECONDS = 10.0  # the previous epoch's keys still open messages this long
EPOCH_MAX_AGE_SECONDS = 300.0  # the key leader starts a new epoch at least this often
# A leader answers content sealed in an epoch it lacks (a stray epoch, §6.3) only when
# that epoch is at most this far above the newest it knows, and at most once per
# EPOCH_GRACE_SECONDS: no member can push the epoch counter up or keep the leader busy.
MAX_STRAY_EPOCH_JUMP = 16

# Consent (docs/protocol.md §8)
CONSENT_TIMEOUT_SECONDS = 30.0  # an unanswered consent prompt counts as "no"

# Relay (docs/protocol.md §5.4)
RELAY_SCREEN_BACKLOG = 8 * MIB  # queued screen updates for one receiver before dropping
RELAY_TOTAL_BACKLOG = 32 * MIB  # queued frames of any kind before disconnecting
RELAY_HELLO_TIMEOUT_SECONDS = 10.0
RELAY_CONSENT_TICK_SECONDS = 0.5  # how often unanswered prompts are checked
MAX_REFUSAL_RECORDS = 20  # refused frames of one connection kept as event records
SERVER_SHUTDOWN_GRACE_SECONDS = 5  # on SIGTERM, connections get this long to close

# Broker: accounts, passwords and tokens (docs/operators.md, "Rate limits")
MAX_USERNAME_CHARS = 64
MIN_ACCOUNT_PASSWORD_CHARS = 12  # organizer accounts; `relaydesk admin user add` refuses less
MAX_PASSWORD_CHARS = 1024  # any password the broker hashes: argon2's input stays bounded
# argon2id runs with argon2-cffi's defaults (RFC 9106's second recommendation: t=3,
# m=64 MiB, p=4); at most this many hashes run at once, so memory stays bounded.
MAX_CONCURRENT_PASSWORD_HASHES = 4
ORGANIZER_TOKEN_BYTES = 32
ORGANIZER_TOKEN_LIFETIME_SECONDS = 12 * 3600
TICKET_LIFETIME_SECONDS = 300  # a join ticket must reach a relay within this (§7.1)

# Broker rate limits: token buckets per process (a burst, then one more every N seconds)
LOGIN_PER_ADDRESS_BURST = 10
LOGIN_PER_ADDRESS_REFILL_SECONDS = 6.0
LOGIN_FAILURES_PER_USERNAME_BURST = 5  # only failed logins count against a username
LOGIN_FAILURES_PER_USERNAME_REFILL_SECONDS = 60.0
JOIN_PER_ADDRESS_BURST = 30
JOIN_PER_ADDRESS_REFILL_SECONDS = 2.0
JOIN_PER_SESSION_BURST = 60  # all attempts at one session ID, known or not
JOIN_PER_SESSION_REFILL_SECONDS = 1.0
# A session ID with this many failed joins (wrong password, or no such session: the two
# must look alike) within the window refuses every password for JOIN_LOCK_SECONDS.
JOIN_FAILURES_BEFORE_LOCK = 10
JOIN_FAILURE_WINDOW_SECONDS = 600.0
JOIN_LOCK_SECONDS = 300.0
RATE_LIMIT_MAX_KEYS = 100_000  # keys one limiter remembers; the least recently seen go first

# Screen sharing (docs/screen.md)
SCREEN_FPS = 30.0  # at most this many pictures a second; none when nothing changes
MAX_SCREEN_PIXELS = 32 * MIB  # width x height a viewer accepts: 8K (7680x4320) fits; 128 MiB
MAX_UPDATE_AREA_FACTOR = 2  # the tiles of one screen update cover at most 2 screens

# Privacy: what of the presenter's screen never leaves it (docs/privacy.md, agent/privacy.py)
MAX_PRIVACY_PATTERNS = 32  # applications one can exclude (WM_CLASS or title), at once
MAX_PRIVACY_PATTERN_CHARS = 200  # one such pattern
MAX_MASK_RECTS = 2048  # window rectangles a mask is computed from (shapes count each one)
MAX_MASK_PIECES = 20_000  # rectangles of one computed mask
# (beyond either, the whole screen is masked: never less than what should be)
PRIVACY_HOLD_SECONDS = 0.25  # an area stays masked this long after a hidden window left it
PRIVACY_GRAB_ATTEMPTS = 3  # captures a frame when windows change during one; then none is sent
PRIVACY_REPORT_SECONDS = 2.0  # refused input of one kind is reported at most this often

# Remote control (docs/protocol.md §4.2; agent/inject.py)
MAX_WHEEL_STEPS = 100  # wheel steps of one input event, each way (the decoder's bound too)
