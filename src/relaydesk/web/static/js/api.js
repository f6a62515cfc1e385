// The broker's REST API from the page. The organizer's token lives only in the HttpOnly
// cookie the broker sets (Path=/api): the page never sees it, and sends it by fetching
// with same-origin credentials. Errors carry the broker's own sentence.

export class ApiError extends Error {
  constructor(message, status, headers = null) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.headers = headers;
  }
}

const unauthorizedHandlers = new Set();

/** Call `handler(error)` whenever an organizer request answers 401 (signed out, expired). */
export function onUnauthorized(handler) {
  unauthorizedHandlers.add(handler);
}

/**
 * `method path` with a JSON body; the JSON answer (or null for none). Throws ApiError
 * with the broker's `detail` sentence for an error status, or a sentence about the
 * network. `organizer: true` reports a 401 to the onUnauthorized handlers.
 */
export async function api(method, path, body = undefined, { organizer = false } = {}) {
  const init = { method, credentials: "same-origin", headers: {}, cache: "no-store" };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch {
    throw new ApiError("The server cannot be reached. Check your connection.", 0);
  }
  let answer = null;
  if (response.status !== 204) {
    try {
      answer = await response.json();
    } catch {
      // an answer without JSON: the status says enough
    }
  }
  if (!response.ok) {
    let text = typeof answer?.detail === "string"
      ? answer.detail : `The server refused (${response.status}).`;
    const retry = response.headers.get("Retry-After");
    if (response.status === 429 && retry) text += ` Try again in ${retry} s.`;
    const error = new ApiError(text, response.status, response.headers);
    if (organizer && response.status === 401) {
      for (const handler of unauthorizedHandlers) handler(error);
    }
    throw error;
  }
  return answer;
}
