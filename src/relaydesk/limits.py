"""Every size, count, rate and time limit of relaydesk, in one place for review.

Parsers check these the moment a length is known, before buffering (docs/protocol.md §2).
"""

from __future__ import annotations

KIB = 1024
MIB = 1024 * KIB

# Frames (docs/protocol.md §2)
MAX_FRAME_BODY = 4 * MIB  # a screen update larger than this is split by the encoder
# A roster of MAX_MEMBERS typical tickets (about 1.4 KB each with their 1216-byte hybrid
# key: 1.45 MB) or a commit for them (about 1.18 KB a member: 1.21 MB) fits.
MAX_CONTROL_BODY = 2 * MIB

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
# A receiver waiting for a whole picture asks the presenter for one at the first delta it
# has to drop, and again every this many dropped deltas (an ask can go unanswered).
RELAY_PICTURE_REASK_DROPS = 30
RELAY_TOTAL_BACKLOG = 32 * MIB  # queued frames of any kind before disconnecting
# A receiver with this many VIDEO_FRAMEs waiting to be written is behind: the relay drops
# the DISCARDABLE ones for it (half the frame rate) until it has caught up (§5.4).
RELAY_VIDEO_BACKLOG_FRAMES = 8
RELAY_HELLO_TIMEOUT_SECONDS = 10.0
# A receiver's socket gets at most this many bytes of frames in one write (one run of TLS
# records); the transport pauses the link above it, and what is more waits in the outbox,
# where the rules above apply.
RELAY_WRITE_BATCH = 256 * KIB
RELAY_WEBSOCKET_PING_SECONDS = 20.0  # the relay pings a WebSocket link; unanswered: gone
RELAY_CONSENT_TICK_SECONDS = 0.5  # how often unanswered prompts are checked
MAX_REFUSAL_RECORDS = 20  # refused frames of one connection kept as event records
SERVER_SHUTDOWN_GRACE_SECONDS = 5  # on SIGTERM, connections get this long to close

# Several servers (docs/operators.md "Several servers", docs/protocol.md §9)
MAX_RELAY_NAME_CHARS = 32  # [a-z0-9-]: the name an operator registers a relay under
RELAY_HEARTBEAT_SECONDS = 0.5  # a relay reports its load to the broker this often
RELAY_DEAD_SECONDS = 1.5  # a relay not heard from for this long gets no new sessions
RELAY_SUSPECT_SECONDS = 0.9  # ... or this long, when a member reports it dropped them
MAX_RELAY_REPORT_BYTES = 1 * MIB  # one signed request from a relay to the broker
MAX_RELAY_REPORT_RECORDS = 500  # event records in one such request
RELAY_REPORT_QUEUE = 100_000  # records a relay keeps while the broker is unreachable
RELAY_REPORT_CLOCK_SKEW_SECONDS = 60.0  # a relay's signed request is this fresh at most
BRIDGE_HEARTBEAT_SECONDS = 0.5  # relays sharing sessions say "alive" on NATS this often
BRIDGE_DEAD_SECONDS = 2.0  # a bridged relay silent this long is gone: its members left
RECONNECT_FIRST_DELAY_SECONDS = 0.1  # a client's first retry after its link dropped
RECONNECT_MAX_DELAY_SECONDS = 5.0  # retries back off to this
CHAT_REPLAY_SECONDS = 60.0  # chat lines a sender sends again after a reconnect
MAX_CHAT_REPLAY_LINES = 200  # ... at most this many
MAX_EARLY_FRAMES = 256  # content frames a client holds until their epoch's commit comes
EARLY_FRAME_SECONDS = 5.0  # ... for at most this long, then refuses them
RELOCK_WAIT_SECONDS = 10.0  # a host sets its controls on a new home once all are back, or then
MAX_PROXY_RESPONSE_BYTES = 16 * KIB  # an HTTP CONNECT proxy's answer header
TRANSPORT_CONNECT_TIMEOUT_SECONDS = 5.0  # per transport tried, before the next
LINK_KEEPALIVE_IDLE_SECONDS = 15  # a direct TLS link idle this long is probed (TCP)
LINK_KEEPALIVE_INTERVAL_SECONDS = 5  # ... this often
LINK_KEEPALIVE_PROBES = 3  # ... and dropped after this many go unanswered

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

# Site policy (docs/operators.md "Site policy"): an administrator may raise the minimum
# length of organizer passwords (never below MIN_ACCOUNT_PASSWORD_CHARS) and set one for
# session passwords, each up to this.
MAX_POLICY_PASSWORD_CHARS = 128
STRONG_PASSWORD_MIN_SCORE = 3  # zxcvbn's score (0-4) a password needs under strong_passwords
STRENGTH_CHECKED_CHARS = 72  # zxcvbn scores this much of a password (its own bound)

# Password resets (docs/operators.md "Password resets")
RESET_CODE_BYTES = 15  # an approved reset's one-time code: 120 bits, 24 base32 characters
RESET_CODE_LIFETIME_SECONDS = 24 * 3600  # an approved code works this long, once
RESET_REQUEST_LIFETIME_SECONDS = 7 * 24 * 3600  # an undecided request lapses after this
RESET_REQUESTS_PER_ADDRESS_BURST = 5  # POST /api/password-resets, per client address
RESET_REQUESTS_PER_ADDRESS_REFILL_SECONDS = 60.0
RESET_ATTEMPTS_PER_ADDRESS_BURST = 10  # attempts to set a password with a code, per address
RESET_ATTEMPTS_PER_ADDRESS_REFILL_SECONDS = 6.0
RESET_FAILURES_PER_USERNAME_BURST = 5  # wrong codes for one username, then 1 every minute
RESET_FAILURES_PER_USERNAME_REFILL_SECONDS = 60.0
MAX_PENDING_RESETS = 1000  # undecided requests kept at once; more are answered alike, not kept

# Broker rate limits: token buckets per process (a burst, then one more every N seconds)
LOGIN_PER_ADDRESS_BURST = 10
LOGIN_PER_ADDRESS_REFILL_SECONDS = 6.0
LOGIN_FAILURES_PER_USERNAME_BURST = 5  # only failed logins count against a username
LOGIN_FAILURES_PER_USERNAME_REFILL_SECONDS = 60.0
# Join attempts: each takes a token before any work; a join that succeeds gives it back,
# so these budgets count failed joins (guesses) and bound the joins in flight at once.
JOIN_PER_ADDRESS_BURST = 30
JOIN_PER_ADDRESS_REFILL_SECONDS = 2.0
JOIN_PER_SESSION_BURST = 60  # all attempts at one session ID, known or not
JOIN_PER_SESSION_REFILL_SECONDS = 1.0
# Joins that succeed, bounded on their own and sized for a whole meeting: MAX_MEMBERS
# people behind one address (a company's NAT) join one session at once.
ADMITTED_PER_ADDRESS_BURST = MAX_MEMBERS
ADMITTED_PER_ADDRESS_REFILL_SECONDS = 1.0
ADMITTED_PER_SESSION_BURST = MAX_MEMBERS  # participants; the organizer is not counted
ADMITTED_PER_SESSION_REFILL_SECONDS = 1.0
REFRESH_PER_MEMBER_BURST = 10  # ticket refreshes of one member (reconnects back off)
REFRESH_PER_MEMBER_REFILL_SECONDS = 1.0
# A session ID with this many failed joins (wrong password, or no such session: the two
# must look alike) within the window refuses every password for JOIN_LOCK_SECONDS.
JOIN_FAILURES_BEFORE_LOCK = 10
JOIN_FAILURE_WINDOW_SECONDS = 600.0
JOIN_LOCK_SECONDS = 300.0
RATE_LIMIT_MAX_KEYS = 100_000  # keys one limiter remembers; those nearest to full go first

# Screen sharing (docs/screen.md)
SCREEN_FPS = 30.0  # at most this many pictures a second; none when nothing changes
MAX_SCREEN_PIXELS = 32 * MIB  # width x height a viewer accepts: 8K (7680x4320) fits; 128 MiB
MAX_UPDATE_AREA_FACTOR = 2  # the tiles of one screen update cover at most 2 screens
# Full motion (docs/screen.md "Video regions"; docs/protocol.md §4.1 VIDEO_FRAME)
VIDEO_LAYERS = 2  # frame n of a video stream is in layer n % 2; layer 1 is DISCARDABLE
VIDEO_KEYFRAME_MIN_SECONDS = 0.5  # keyframes asked for (REFRESH) come at most this often
VIDEO_LAYER_KEYFRAME_SECONDS = 2.0  # layer 1 restarts this often: a skipped viewer rejoins it
VIDEO_REFRESH_MIN_SECONDS = 1.0  # a viewer asks again for a broken video layer at most this often
MAX_VIDEO_REFERENCE_FRAMES = 4  # an SPS may ask a viewer to keep at most this many pictures
# A viewer whose video frames come this much later than its fastest ones, several in a
# row, asks the relay for layer 0 alone (VIDEO_LAYERS 1); back to both once frames have
# come on time for VIDEO_CATCH_UP_SECONDS.
VIDEO_BEHIND_MS = 150
VIDEO_BEHIND_FRAMES = 3
VIDEO_CATCH_UP_SECONDS = 3.0
VIDEO_DELAY_WINDOW_SECONDS = 60.0  # the fastest frame is looked for this far back

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

# Recording files (docs/protocol.md §12; recording/format.py)
MAX_RECORDING_ENTRY_BODY = 44 + MAX_FRAME_BODY  # one entry's body: a whole frame at most
RECORDING_CHECKPOINT_ENTRIES = 256  # the recorder signs the chain at least this often
RECORDING_CHECKPOINT_SECONDS = 5.0  # ... and at least this often while entries come
