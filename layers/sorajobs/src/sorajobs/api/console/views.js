// Building the page: every value the API returns goes in as text (textContent, attributes), never as markup.

export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === false || value === null || value === undefined) continue;
    if (name === "class") node.className = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function formatEta(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  if (seconds < 60) return `${Math.round(seconds)} s`;
  return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
}

export function formatCost(usd) {
  return usd === null || usd === undefined ? "–" : `$${Number(usd).toFixed(2)}`;
}

export function formatTime(iso) {
  if (!iso) return "–";
  const date = new Date(iso);
  return el("time", { datetime: iso }, Number.isNaN(date.getTime()) ? iso : date.toLocaleString());
}

export function statusBadge(status) {
  return el("span", { class: `status status-${status}` }, status.replace("_", " "));
}

export function progressBar(job, labelledBy) {
  return el("progress", {
    max: 100,
    value: job.progress,
    "aria-labelledby": labelledBy,
    "aria-valuetext": `${job.progress}%`,
    "data-progress": job.progress,
  });
}

export function jobRowContent(job) {
  const promptId = `prompt-${job.id}`;
  return [
    el(
      "div",
      { class: "prompt" },
      el("a", { href: `#/jobs/${encodeURIComponent(job.id)}`, id: promptId }, job.prompt),
      el("small", {}, `${job.provider} · ${job.model} · ${job.seconds} s · ${job.size}`),
    ),
    el("div", {}, statusBadge(job.status)),
    el("div", { class: "progress-cell" }, progressBar(job, promptId), el("small", {}, `${job.progress}%`)),
    el("div", {}, el("small", {}, "Queue"), job.queue_position ?? "–"),
    el("div", {}, el("small", {}, "ETA"), formatEta(job.estimated_seconds_remaining)),
    el("div", {}, el("small", {}, "Cost"), formatCost(job.estimated_cost_usd)),
  ];
}

export function factList(job) {
  const facts = [
    ["Status", statusBadge(job.status)],
    ["Progress", `${job.progress}%`],
    ["Queue position", job.queue_position ?? "–"],
    ["Time left", formatEta(job.estimated_seconds_remaining)],
    ["Estimated cost", formatCost(job.estimated_cost_usd)],
    ["Attempt", job.attempt],
    ["Provider", `${job.provider} · ${job.model}`],
    ["Clip", `${job.seconds} s · ${job.size}`],
    ["Submitted", formatTime(job.created_at)],
    ["Updated", formatTime(job.updated_at)],
  ];
  if (job.error) facts.push(["Error", `${job.error.category || job.error.code}: ${job.error.message}`]);
  return el("dl", { class: "facts" }, facts.map(([term, value]) => [el("dt", {}, term), el("dd", {}, value)]));
}

// The job's history: its attempts (abandoned ones first), the changes this page saw, its completion.
export function timeline(job, attempts, seen) {
  const items = [el("li", {}, "Submitted ", formatTime(job.created_at))];
  for (const attempt of attempts) {
    const ended = attempt.ended_at ? [" → ", formatTime(attempt.ended_at)] : attempt.current ? " (current)" : "";
    const error = attempt.error ? ` – ${attempt.error.code}: ${attempt.error.message}` : "";
    items.push(
      el(
        "li",
        {},
        `Attempt ${attempt.attempt}: ${attempt.status} at ${attempt.progress}%, from `,
        formatTime(attempt.started_at),
        ended,
        error,
      ),
    );
  }
  for (const change of seen) {
    items.push(el("li", {}, `Seen ${change.status} at ${change.progress}% `, formatTime(change.at)));
  }
  if (job.completed_at) items.push(el("li", {}, "Completed ", formatTime(job.completed_at)));
  return el("ol", { class: "timeline" }, items);
}

export function deliveryTable(deliveries, onReplay) {
  if (deliveries.length === 0) {
    return el("p", { class: "hint" }, "No webhook deliveries: this job names no webhook_url and the deployment none.");
  }
  const rows = deliveries.map((delivery) => {
    const last = delivery.attempts[delivery.attempts.length - 1];
    const outcome = last ? `${last.status_code ?? "no answer"}${last.error ? ` (${last.error})` : ""}` : "–";
    return el(
      "tr",
      {},
      el("td", {}, delivery.type, el("br"), el("small", {}, `#${delivery.sequence}`)),
      el("td", {}, delivery.destination, el("br"), el("small", {}, delivery.url)),
      el("td", {}, delivery.state, delivery.replays ? el("small", {}, ` (replayed ${delivery.replays}×)`) : null),
      el("td", {}, `${delivery.attempts.length}; last: ${outcome}`),
      el(
        "td",
        {},
        el(
          "button",
          {
            type: "button",
            class: "secondary",
            "aria-label": `Replay ${delivery.type} #${delivery.sequence}`,
            onclick: () => onReplay(delivery),
          },
          "Replay",
        ),
      ),
    );
  });
  return el(
    "div",
    { class: "table-scroll" },
    el(
      "table",
      {},
      el("caption", { class: "visually-hidden" }, "Webhook deliveries of this job"),
      el(
        "thead",
        {},
        el(
          "tr",
          {},
          ["Event", "Destination", "State", "Attempts", "Action"].map((name) => el("th", { scope: "col" }, name)),
        ),
      ),
      el("tbody", {}, rows),
    ),
  );
}
