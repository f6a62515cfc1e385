// The member's own session log, offered on the final card (docs/meetings.md "Session
// log"): the same .txt and .csv the Python client writes (client/session_log.py), the
// CSV as one header and one row (a page cannot append to a file on disk). Bytes are
// what this page wrote to and read from its relay links: whole frames, every link.

export const CSV_COLUMNS = [
  "started_at", "ended_at", "duration_seconds", "server", "session_id", "title",
  "display_name", "role", "member_id", "bytes_sent", "bytes_received", "people",
];

const FORMULA_STARTS = ["=", "+", "-", "@", "\t", "\r"];

/** A CSV cell: text a spreadsheet takes as text (no formula), quoted where needed. */
export function csvCell(value) {
  let text = String(value ?? "");
  if (typeof value === "string" && FORMULA_STARTS.some((start) => text.startsWith(start))) {
    text = `'${text}`;
  }
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** Seconds as Python's "%g" shows them (an integer without ".0"). */
function seconds(log) {
  return Math.max(0, Math.round((log.endedAt - log.startedAt) / 1) / 1000);
}

function iso(ms) {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, "+00:00");
}

function utc(ms) {
  return new Date(ms).toISOString().replace("T", " ").replace(/\.\d{3}Z$/, "");
}

/**
 * @typedef {object} SessionLog
 * @property {string} server  @property {string} sessionId 9 digits  @property {string} title
 * @property {string} name  @property {string} role  @property {number} memberId
 * @property {string[]} people this member first  @property {number} startedAt ms
 * @property {number} endedAt ms  @property {number} bytesSent  @property {number} bytesReceived
 */

/** @param {SessionLog} log @returns {string} the .txt, for people */
export function sessionLogText(log) {
  const total = Math.floor(seconds(log));
  const [h, m, s] = [Math.floor(total / 3600), Math.floor((total % 3600) / 60), total % 60];
  const id = `${log.sessionId.slice(0, 3)} ${log.sessionId.slice(3, 6)} ${log.sessionId.slice(6)}`;
  const lines = [
    "relaydesk session log",
    "",
    `Server:          ${log.server}`,
    `Session ID:      ${id}`,
    ...(log.title ? [`Title:           ${log.title}`] : []),
    `You:             ${log.name} (${log.role}, member ${log.memberId})`,
    `People:          ${log.people.join(", ")}`,
    `Started (UTC):   ${utc(log.startedAt)}`,
    `Ended (UTC):     ${utc(log.endedAt)}`,
    `Duration:        ${h}:${String(m).padStart(2, "0")}:${String(s).padStart(2, "0")} (${seconds(log)} s)`,
    `Bytes sent:      ${log.bytesSent.toLocaleString("en-US")}`,
    `Bytes received:  ${log.bytesReceived.toLocaleString("en-US")}`,
    "",
    "Counted by this page at its link to the relay: whole frames, every link.",
  ];
  return `${lines.join("\n")}\n`;
}

/** @param {SessionLog} log @returns {string} the .csv: the header and this session's row */
export function sessionLogCsv(log) {
  const row = {
    started_at: iso(log.startedAt),
    ended_at: iso(log.endedAt),
    duration_seconds: seconds(log),
    server: log.server,
    session_id: log.sessionId,
    title: log.title ?? "",
    display_name: log.name,
    role: log.role,
    member_id: log.memberId,
    bytes_sent: log.bytesSent,
    bytes_received: log.bytesReceived,
    people: log.people.join("; "),
  };
  return `${CSV_COLUMNS.join(",")}\n${CSV_COLUMNS.map((c) => csvCell(row[c])).join(",")}\n`;
}
