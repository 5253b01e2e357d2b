// The API as the console speaks it: fetch with the signed-in user's token (kept in memory by the caller), the one
// error envelope as ApiError, Retry-After read; the polling rules of the Python client's Waiter; Cognito sign-in.

export const FINISHED_STATUSES = new Set(["completed", "failed", "cancelled", "reset"]);

export class ApiError extends Error {
  constructor(status, code, message, details, retryAfter) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = Array.isArray(details) ? details : [];
    this.retryAfter = retryAfter;
  }
}

function retryAfterSeconds(header) {
  if (header === null) return null;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds);
  const at = Date.parse(header);
  return Number.isNaN(at) ? null : Math.max(0, (at - Date.now()) / 1000);
}

export class Api {
  // base: the API's root, ending in "/" (the console is served at <root>/console).
  constructor(base, token) {
    this.base = base;
    this.token = token;
  }

  async request(method, path, { query = {}, body, headers = {} } = {}) {
    const url = new URL(path, this.base);
    for (const [name, value] of Object.entries(query)) {
      if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, String(value));
    }
    const sent = { Authorization: `Bearer ${this.token}`, ...headers };
    if (body !== undefined) sent["Content-Type"] = "application/json";
    let response;
    try {
      response = await fetch(url, {
        method,
        headers: sent,
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: "no-store",
        credentials: "omit",
        redirect: "error",
      });
    } catch {
      throw new ApiError(0, "network_error", "The API could not be reached; check the connection.", [], null);
    }
    const retryAfter = retryAfterSeconds(response.headers.get("Retry-After"));
    const text = await response.text();
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      data = null;
    }
    if (!response.ok) {
      // The API's envelope {"error": {...}}, or API Gateway's own {"message": ...}.
      const error = data && typeof data.error === "object" && data.error ? data.error : {};
      const message = error.message || (data && data.message) || `HTTP ${response.status}`;
      throw new ApiError(response.status, error.code || `http_${response.status}`, message, error.details, retryAfter);
    }
    return { data, retryAfter };
  }

  models() {
    return this.request("GET", "models");
  }

  listJobs(cursor, limit = 10) {
    return this.request("GET", "videos", { query: { cursor, limit } });
  }

  job(id) {
    return this.request("GET", `videos/${encodeURIComponent(id)}`);
  }

  refresh(id) {
    return this.request("GET", `videos/${encodeURIComponent(id)}/sora-status`);
  }

  submit(body) {
    // One key per submit: a retried request never starts (or pays for) a second job.
    return this.request("POST", "videos", { body, headers: { "Idempotency-Key": crypto.randomUUID() } });
  }

  reset(id, resubmit) {
    return this.request("POST", `videos/${encodeURIComponent(id)}/reset`, { body: { resubmit } });
  }

  cancel(id) {
    return this.request("POST", `videos/${encodeURIComponent(id)}/cancel`);
  }

  attempts(id) {
    return this.request("GET", `videos/${encodeURIComponent(id)}/attempts`);
  }

  contentUrl(id, variant) {
    return this.request("GET", `videos/${encodeURIComponent(id)}/content`, { query: { variant, redirect: "false" } });
  }

  webhooks(id) {
    return this.request("GET", `videos/${encodeURIComponent(id)}/webhooks`);
  }

  replayWebhook(id, eventId) {
    return this.request("POST", `videos/${encodeURIComponent(id)}/webhooks/replay`, { body: { event_id: eventId } });
  }
}

// When to ask again, as the Python client's Waiter decides: at the server's pace while the job moves (never sooner
// than its Retry-After), doubling the interval up to `max` seconds while nothing moves; null once finished.
export class Backoff {
  constructor({ min = 1, max = 15 } = {}) {
    this.min = min;
    this.max = max;
    this.interval = min;
    this.seen = null;
  }

  afterAnswer(job, retryAfter) {
    const moved = [job.status, job.progress, job.queue_position, job.attempt].join("|");
    this.interval = moved !== this.seen ? this.min : Math.min(this.interval * 2, this.max);
    this.seen = moved;
    return FINISHED_STATUSES.has(job.status) ? null : Math.max(this.interval, retryAfter || 0);
  }

  afterError(error) {
    this.interval = Math.min(this.interval * 2, this.max);
    return Math.max(this.interval, error.retryAfter || 0);
  }
}

// Cognito's InitiateAuth (USER_PASSWORD_AUTH) and the first sign-in's NEW_PASSWORD_REQUIRED challenge, over
// Cognito's JSON API: no SDK. Answers {idToken} or {challenge, session}.
async function cognitoCall(region, target, payload) {
  let response;
  try {
    response = await fetch(`https://cognito-idp.${region}.amazonaws.com/`, {
      method: "POST",
      headers: {
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": `AWSCognitoIdentityProviderService.${target}`,
      },
      body: JSON.stringify(payload),
      credentials: "omit",
      cache: "no-store",
    });
  } catch {
    throw new ApiError(0, "network_error", "Cognito could not be reached.", [], null);
  }
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    const code = String(data.__type || "sign_in_failed").split("#").pop();
    throw new ApiError(response.status, code, data.message || "Sign-in failed.", [], null);
  }
  if (data.AuthenticationResult) return { idToken: data.AuthenticationResult.IdToken };
  return { challenge: data.ChallengeName, session: data.Session };
}

export function cognitoSignIn(cognito, email, password) {
  return cognitoCall(cognito.region, "InitiateAuth", {
    AuthFlow: "USER_PASSWORD_AUTH",
    ClientId: cognito.client_id,
    AuthParameters: { USERNAME: email, PASSWORD: password },
  });
}

export function cognitoSetNewPassword(cognito, email, newPassword, session) {
  return cognitoCall(cognito.region, "RespondToAuthChallenge", {
    ChallengeName: "NEW_PASSWORD_REQUIRED",
    ClientId: cognito.client_id,
    Session: session,
    ChallengeResponses: { USERNAME: email, NEW_PASSWORD: newPassword },
  });
}
