// The console: sign-in, the submit form, the job list and the job page, over the API of the origin that served it.
// The token lives in `api` only (memory): reloading the page signs out.
import { Api, ApiError, Backoff, FINISHED_STATUSES, cognitoSetNewPassword, cognitoSignIn } from "./api.js";
import { deliveryTable, el, factList, jobRowContent, progressBar, timeline } from "./views.js";

const byId = (id) => document.getElementById(id);
// The console is served at <API root>/console, so the API's root is the page's folder.
const apiRoot = new URL(location.pathname.replace(/console\/?$/, ""), location.origin).href;
const SUBMIT_FIELDS = ["prompt", "provider", "model", "size", "seconds", "webhook_url"];

let api = null;
let config = { sign_in: "token", cognito: null };
let models = null;
const watchers = new Map();
const subscribers = new Set();
const statusChanges = new Map();

function announce(text) {
  byId("announcer").textContent = text;
}

function errorText(error) {
  return error instanceof ApiError ? `${error.message} (${error.code})` : String(error);
}

// --- following jobs: one watcher per unfinished job shown, at the pace the API asks for ------------------------

function publish(job) {
  const changes = statusChanges.get(job.id) || [];
  if (changes.length === 0 || changes[changes.length - 1].status !== job.status) {
    changes.push({ status: job.status, progress: job.progress, at: new Date().toISOString() });
    statusChanges.set(job.id, changes);
  }
  for (const subscriber of subscribers) subscriber(job);
}

class JobWatcher {
  constructor(id) {
    this.id = id;
    this.backoff = new Backoff();
    this.timer = null;
    this.stopped = false;
  }

  async pollNow() {
    clearTimeout(this.timer);
    let delay;
    try {
      const { data: job, retryAfter } = await api.refresh(this.id);
      publish(job);
      delay = this.backoff.afterAnswer(job, retryAfter);
    } catch (error) {
      if (error.status >= 400 && error.status < 500 && error.status !== 429) {
        announce(`Job ${this.id}: ${errorText(error)}`);
        return this.stop();
      }
      delay = this.backoff.afterError(error);
    }
    if (delay === null) this.stop();
    else if (!this.stopped) this.timer = setTimeout(() => this.pollNow(), delay * 1000);
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    watchers.delete(this.id);
  }
}

function watch(job) {
  if (FINISHED_STATUSES.has(job.status) || watchers.has(job.id)) return watchers.get(job.id);
  const watcher = new JobWatcher(job.id);
  watchers.set(job.id, watcher);
  watcher.pollNow();
  return watcher;
}

function stopWatching() {
  for (const watcher of [...watchers.values()]) watcher.stop();
  subscribers.clear();
}

// --- sign-in ------------------------------------------------------------------------------------------------------

function tokenClaims(token) {
  try {
    const payload = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(payload.padEnd(payload.length + ((4 - (payload.length % 4)) % 4), "=")));
  } catch {
    return {};
  }
}

function signIn(token) {
  api = new Api(apiRoot, token.trim());
  const claims = tokenClaims(token);
  const who = byId("signed-in-as");
  who.textContent = `Signed in as ${claims.email || claims["cognito:username"] || claims.sub || "an unknown user"}`;
  who.hidden = false;
  byId("sign-out").hidden = false;
  byId("sign-in-error").textContent = "";
  render();
}

function signOut(reason = "") {
  stopWatching();
  api = null;
  models = null;
  byId("signed-in-as").hidden = true;
  byId("sign-out").hidden = true;
  byId("sign-in-error").textContent = reason;
  render();
}

function setUpSignIn() {
  byId("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const token = byId("token").value.trim();
    byId("token").value = "";
    if (token) signIn(token);
    else byId("sign-in-error").textContent = "Paste a token first.";
  });
  byId("sign-out").addEventListener("click", () => signOut("Signed out."));
  if (config.sign_in !== "cognito") return;
  const form = byId("password-form");
  form.hidden = false;
  let session = null;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const email = byId("email").value.trim();
    try {
      const answer = session
        ? await cognitoSetNewPassword(config.cognito, email, byId("new-password").value, session)
        : await cognitoSignIn(config.cognito, email, byId("password").value);
      if (answer.idToken) {
        session = null;
        byId("password").value = byId("new-password").value = "";
        byId("new-password-group").hidden = true;
        return signIn(answer.idToken);
      }
      if (answer.challenge === "NEW_PASSWORD_REQUIRED") {
        session = answer.session;
        byId("new-password-group").hidden = false;
        byId("new-password").focus();
        byId("sign-in-error").textContent = "Choose a new password to finish your first sign-in.";
        return;
      }
      byId("sign-in-error").textContent = `This sign-in needs ${answer.challenge}, which the console cannot answer.`;
    } catch (error) {
      byId("sign-in-error").textContent = errorText(error);
    }
  });
}

// An API answer of 401 ends the session: the token expired or was never valid here.
async function guarded(call, onError) {
  try {
    return await call();
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) signOut(`Signed out: ${errorText(error)}`);
    else onError(error);
    return null;
  }
}

// --- the list page: submit form and the caller's jobs --------------------------------------------------------------

function field(name, label, control, { wide = false, hint = null } = {}) {
  control.id = `field-${name}`;
  control.name = name;
  const describedBy = [`error-${name}`, hint ? `hint-${name}` : null].filter(Boolean).join(" ");
  control.setAttribute("aria-describedby", describedBy);
  return el(
    "div",
    { class: wide ? "field wide" : "field" },
    el("label", { for: control.id }, label),
    control,
    hint ? el("small", { id: `hint-${name}`, class: "hint" }, hint) : null,
    el("p", { id: `error-${name}`, class: "field-error" }),
  );
}

function fillSelect(select, values, chosen) {
  select.replaceChildren(...values.map((value) => el("option", { value, selected: value === chosen }, value)));
}

function submitForm() {
  const catalog = models.data;
  const fallback = catalog.find((model) => model.default) || catalog[0];
  const prompt = el("textarea", { rows: 3, maxlength: 32000, required: true });
  const provider = el("select", { required: true });
  const model = el("select", { required: true });
  const size = el("select", { required: true });
  const seconds = el("select", { required: true });
  const webhookUrl = el("input", { type: "url", inputmode: "url", placeholder: "https://hooks.example.com/sora" });
  const formError = el("p", { class: "form-error", role: "alert" });

  const chooseModel = (name) => {
    const spec = catalog.find((entry) => entry.model === name && entry.provider === provider.value);
    fillSelect(size, spec.sizes, spec.sizes[0]);
    fillSelect(seconds, spec.seconds, spec.seconds[0]);
  };
  const chooseProvider = (name, modelName) => {
    const names = catalog.filter((entry) => entry.provider === name).map((entry) => entry.model);
    fillSelect(model, names, modelName || names[0]);
    chooseModel(model.value);
  };
  fillSelect(provider, [...new Set(catalog.map((entry) => entry.provider))], fallback.provider);
  chooseProvider(fallback.provider, fallback.model);
  provider.addEventListener("change", () => chooseProvider(provider.value));
  model.addEventListener("change", () => chooseModel(model.value));

  const controls = { prompt, provider, model, size, seconds, webhook_url: webhookUrl };
  const clearErrors = () => {
    formError.textContent = "";
    for (const name of SUBMIT_FIELDS) {
      byId(`error-${name}`).textContent = "";
      controls[name].removeAttribute("aria-invalid");
    }
  };
  const showErrors = (error) => {
    formError.textContent = errorText(error);
    let first = null;
    for (const detail of error.details) {
      const name = Array.isArray(detail.loc) ? detail.loc[detail.loc.length - 1] : null;
      if (!SUBMIT_FIELDS.includes(name)) continue;
      const allowed = Array.isArray(detail.allowed) && detail.allowed.length ? ` Allowed: ${detail.allowed.join(", ")}.` : "";
      byId(`error-${name}`).textContent = `${detail.msg || error.message}${allowed}`;
      controls[name].setAttribute("aria-invalid", "true");
      first = first || controls[name];
    }
    (first || prompt).focus();
  };

  const form = el(
    "form",
    { class: "grid-form", novalidate: true, "aria-describedby": "submit-hint" },
    field("prompt", "Prompt", prompt, { wide: true }),
    field("provider", "Provider", provider),
    field("model", "Model", model),
    field("size", "Size", size),
    field("seconds", "Seconds", seconds),
    field("webhook_url", "Webhook URL (optional)", webhookUrl, { wide: true }),
    el("div", { class: "field wide" }, el("button", { type: "submit" }, "Submit"), formError),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors();
    const body = { prompt: prompt.value, provider: provider.value, model: model.value };
    body.size = size.value;
    body.seconds = seconds.value;
    if (webhookUrl.value.trim()) body.webhook_url = webhookUrl.value.trim();
    const answer = await guarded(() => api.submit(body), showErrors);
    if (!answer) return;
    const job = answer.data;
    prompt.value = "";
    announce(`Submitted job ${job.id}: ${job.status}.`);
    addJobRow(job, { first: true });
    publish(job);
    watch(job);
  });
  return form;
}

function addJobRow(job, { first = false } = {}) {
  const list = byId("job-list");
  if (!list || list.querySelector(`[data-job-id="${CSS.escape(job.id)}"]`)) return;
  const row = el("li", { class: "job-row", "data-job-id": job.id, "data-status": job.status }, jobRowContent(job));
  if (first) list.prepend(row);
  else list.append(row);
  byId("no-jobs").hidden = true;
}

function updateJobRow(job) {
  const row = document.querySelector(`#job-list [data-job-id="${CSS.escape(job.id)}"]`);
  if (!row) return;
  row.dataset.status = job.status;
  row.replaceChildren(...jobRowContent(job));
}

async function listPage() {
  const app = byId("app");
  const listError = el("p", { class: "form-error", role: "alert" });
  const more = el("button", { type: "button", class: "secondary", hidden: true }, "Load more");
  app.replaceChildren(
    el(
      "section",
      { class: "panel", "aria-labelledby": "submit-title" },
      el("h1", { id: "submit-title", tabindex: -1 }, "New video"),
      el("p", { id: "submit-hint", class: "hint" }, "Loading the models this deployment offers…"),
    ),
    el(
      "section",
      { class: "panel", "aria-labelledby": "jobs-title" },
      el("h2", { id: "jobs-title" }, "Your jobs"),
      el("p", { id: "no-jobs", class: "hint" }, "No jobs yet."),
      el("ul", { id: "job-list", class: "job-list", "aria-live": "off" }),
      el("div", { class: "actions" }, more),
      listError,
    ),
  );
  byId("submit-title").focus();
  subscribers.add(updateJobRow);

  let cursor = null;
  const loadPage = async () => {
    const answer = await guarded(() => api.listJobs(cursor), (error) => (listError.textContent = errorText(error)));
    if (!answer) return;
    for (const job of answer.data.data) {
      addJobRow(job);
      watch(job);
    }
    cursor = answer.data.next_cursor;
    more.hidden = !cursor;
  };
  more.addEventListener("click", loadPage);

  if (!models) {
    const answer = await guarded(() => api.models(), (error) => (byId("submit-hint").textContent = errorText(error)));
    if (!answer) return;
    models = answer.data;
  }
  if (!byId("submit-hint")) return;
  byId("submit-hint").textContent = "Choose a provider and model; sizes and durations are the model's own.";
  byId("submit-hint").after(submitForm());
  await loadPage();
}

// --- the job page ---------------------------------------------------------------------------------------------------

async function jobPage(id) {
  const app = byId("app");
  const heading = el("h1", { tabindex: -1, id: "job-title" }, `Job ${id}`);
  const error = el("p", { class: "form-error", role: "alert", id: "job-error" });
  app.replaceChildren(el("p", {}, el("a", { href: "#/" }, "← All jobs")), el("section", { class: "panel" }, heading, error));
  heading.focus();

  const answer = await guarded(() => api.job(id), (failure) => (error.textContent = errorText(failure)));
  if (!answer) return;
  let job = answer.data;
  publish(job);

  const facts = el("div", { id: "job-facts" });
  const progress = el("div", { class: "progress-cell" });
  const video = el("video", { id: "job-video", controls: true, preload: "metadata", playsinline: true, "aria-label": "The video" });
  const thumbnail = el("img", { id: "job-thumbnail", class: "thumbnail", alt: "Thumbnail of the video", hidden: true });
  const media = el("div", { class: "media", hidden: true }, video, thumbnail);
  const history = el("div", { id: "job-timeline" });
  const deliveries = el("div", { id: "job-webhooks" });
  const resubmit = el("input", { type: "checkbox", id: "reset-resubmit" });
  const buttons = {
    refresh: el("button", { type: "button", id: "check-status" }, "Check status"),
    reset: el("button", { type: "button", class: "danger", id: "reset-job" }, "Reset"),
    cancel: el("button", { type: "button", class: "danger", id: "cancel-job" }, "Cancel"),
    download: el("button", { type: "button", class: "secondary", id: "download-video" }, "Download"),
  };
  const prompt = el("p", { id: "job-prompt" });
  heading.after(
    prompt,
    progress,
    facts,
    el(
      "div",
      { class: "actions" },
      buttons.refresh,
      buttons.cancel,
      buttons.reset,
      el("label", { for: "reset-resubmit" }, resubmit, " and submit again"),
      buttons.download,
    ),
    media,
  );
  app.append(
    el("section", { class: "panel", "aria-labelledby": "timeline-title" }, el("h2", { id: "timeline-title" }, "Timeline"), history),
    el(
      "section",
      { class: "panel", "aria-labelledby": "webhooks-title" },
      el("h2", { id: "webhooks-title" }, "Webhook deliveries"),
      deliveries,
    ),
  );

  const loadMedia = async () => {
    const [videoUrl, thumbnailUrl] = await Promise.all([
      guarded(() => api.contentUrl(id, "video"), (failure) => (error.textContent = errorText(failure))),
      guarded(() => api.contentUrl(id, "thumbnail"), () => null),
    ]);
    if (videoUrl) video.src = videoUrl.data.url;
    if (thumbnailUrl) {
      thumbnail.src = thumbnailUrl.data.url;
      thumbnail.hidden = false;
    }
    media.hidden = !videoUrl;
  };
  const loadHistory = async () => {
    const [attempts, hooks] = await Promise.all([
      guarded(() => api.attempts(id), (failure) => (error.textContent = errorText(failure))),
      guarded(() => api.webhooks(id), (failure) => (error.textContent = errorText(failure))),
    ]);
    history.replaceChildren(timeline(job, attempts ? attempts.data.data : [], statusChanges.get(id) || []));
    if (hooks) deliveries.replaceChildren(deliveryTable(hooks.data.data, replay));
  };
  const replay = async (delivery) => {
    const done = await guarded(() => api.replayWebhook(id, delivery.event_id), (failure) => (error.textContent = errorText(failure)));
    if (done) {
      announce(`Sent ${delivery.type} again.`);
      await loadHistory();
    }
  };
  const show = (shown, { reload = false } = {}) => {
    const before = job;
    job = shown;
    prompt.textContent = job.prompt;
    progress.replaceChildren(el("span", { id: "job-progress-label", class: "visually-hidden" }, "Progress"), progressBar(job, "job-progress-label"));
    facts.replaceChildren(factList(job));
    buttons.cancel.disabled = FINISHED_STATUSES.has(job.status);
    buttons.reset.disabled = job.status === "completed";
    buttons.download.disabled = !job.ready;
    if (reload || before.status !== job.status || before.attempt !== job.attempt) {
      if (before.status !== job.status) announce(`Job ${job.id} is ${job.status.replace("_", " ")}.`);
      loadHistory();
    }
    if (job.ready && (reload || !before.ready)) loadMedia();
  };
  const act = async (call) => {
    error.textContent = "";
    const done = await guarded(call, (failure) => (error.textContent = errorText(failure)));
    if (!done) return;
    publish(done.data);
    watch(done.data);
  };

  buttons.refresh.addEventListener("click", async () => {
    const watcher = watchers.get(id);
    if (watcher) return watcher.pollNow();
    await act(() => api.refresh(id));
  });
  buttons.reset.addEventListener("click", () => act(() => api.reset(id, resubmit.checked)));
  buttons.cancel.addEventListener("click", () => act(() => api.cancel(id)));
  buttons.download.addEventListener("click", async () => {
    const url = await guarded(() => api.contentUrl(id, "video"), (failure) => (error.textContent = errorText(failure)));
    if (url) el("a", { href: url.data.url, download: `${id}.mp4` }).click();
  });
  // A presigned URL lasts minutes: a player left open asks for a fresh one when its own has expired.
  video.addEventListener("error", () => job.ready && loadMedia(), { once: true });

  subscribers.add((changed) => changed.id === id && show(changed));
  show(job, { reload: true });
  watch(job);
}

// --- routing ----------------------------------------------------------------------------------------------------------

function render() {
  stopWatching();
  const signedIn = api !== null;
  byId("sign-in").hidden = signedIn;
  byId("app").hidden = !signedIn;
  if (!signedIn) {
    byId("app").replaceChildren();
    byId(config.sign_in === "cognito" ? "email" : "token").focus();
    return;
  }
  const match = location.hash.match(/^#\/jobs\/([^/]+)$/);
  if (match) jobPage(decodeURIComponent(match[1]));
  else listPage();
}

// make local hands the token over in the fragment (#token=…), which never reaches a server; it moves to memory and
// out of the address bar and the history at once.
function takeHandedOverToken() {
  const token = new URLSearchParams(location.hash.slice(1)).get("token");
  if (token) history.replaceState(null, "", `${location.pathname}${location.search}#/`);
  return token;
}

function onHashChange() {
  const token = takeHandedOverToken();
  if (token) signIn(token);
  else render();
}

async function start() {
  const handedOver = takeHandedOverToken();
  try {
    const response = await fetch("console/config.json", { cache: "no-store", credentials: "omit" });
    if (response.ok) config = await response.json();
  } catch {
    // Without its configuration the console still takes a token.
  }
  setUpSignIn();
  window.addEventListener("hashchange", onHashChange);
  if (handedOver) signIn(handedOver);
  else render();
}

start();
