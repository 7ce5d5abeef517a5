// The dashboard page: one WebSocket pushes the whole view whenever something changed; actions
// go through the JSON API. Everything that came from an agent (names, tasks, screens, messages)
// is put on the page with textContent, never parsed as HTML.
"use strict";

// The access token: taken from the URL `orchestra web` printed, then out of the address bar, and
// kept in this tab's sessionStorage (per origin, port included), so a reload still has it. It is
// sent as a header, and to the WebSocket as a subprotocol; never in a cookie, which every server
// on this host would receive, whatever its port.
const TOKEN = takeToken();
const NO_TOKEN = "this needs the dashboard's token: open the URL that `orchestra web` printed (it ends in ?token=...).";

function takeToken() {
  const url = new URL(location.href);
  const given = url.searchParams.get("token");
  let kept = null;
  try {
    if (given) sessionStorage.setItem("orchestra-token", given);
    kept = sessionStorage.getItem("orchestra-token");
  } catch (_) {
    kept = null; // storage is off: the token lives as long as this page
  }
  if (given) {
    url.searchParams.delete("token");
    history.replaceState(history.state, "", url.pathname + url.search + url.hash);
  }
  return given || kept;
}

// The status vocabulary comes from the server (/api/statuses), which has it from orchestra's
// lifecycle core: the order of urgency, and which statuses can take text or be merged.
let ORDER = [];
let SENDABLE = new Set();
let MERGEABLE = new Set();
const cards = new Map(); // agent name -> its card element
let latest = []; // the agents of the last message
let backoff = 500;

const $ = (id) => document.getElementById(id);

// -- the live connection ------------------------------------------------------------------

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${location.host}/api/live`, ["orchestra", `orchestra.token.${TOKEN}`]);
  socket.addEventListener("open", () => {
    backoff = 500;
    setConnection("live", "live");
  });
  socket.addEventListener("message", (event) => {
    const message = JSON.parse(event.data);
    if (message.type === "agents") render(message);
    else if (message.type === "error") showProblem(message.error);
  });
  socket.addEventListener("close", () => {
    setConnection("down", `disconnected; trying again in ${Math.round(backoff / 1000)} s`);
    setTimeout(connect, backoff);
    backoff = Math.min(backoff * 2, 15000);
  });
}

function setConnection(state, text) {
  const node = $("connection");
  node.dataset.state = state;
  node.textContent = text;
}

// -- rendering ---------------------------------------------------------------------------

function urgency(agent) {
  const rank = ORDER.indexOf(agent.status);
  return rank < 0 ? ORDER.length : rank;
}

function render(message) {
  $("project").textContent = message.project || "";
  showProblem(message.error);
  latest = [...message.agents].sort((a, b) => urgency(a) - urgency(b) || a.created_at.localeCompare(b.created_at));
  renderCounts(latest, message.project);
  const main = $("agents");
  const seen = new Set();
  latest.forEach((agent, position) => {
    seen.add(agent.name);
    let card = cards.get(agent.name);
    if (!card) {
      card = makeCard(agent.name);
      cards.set(agent.name, card);
    }
    updateCard(card, agent);
    if (main.children[position] !== card) main.insertBefore(card, main.children[position] || null);
  });
  for (const [name, card] of cards) {
    if (!seen.has(name)) {
      card.remove();
      cards.delete(name);
    }
  }
  $("empty").hidden = latest.length > 0;
}

function renderCounts(agents, project) {
  const counts = new Map();
  for (const agent of agents) counts.set(agent.status, (counts.get(agent.status) || 0) + 1);
  const list = $("counts");
  list.replaceChildren();
  for (const status of [...ORDER, ...[...counts.keys()].filter((s) => !ORDER.includes(s))]) {
    if (!counts.get(status)) continue;
    const item = document.createElement("li");
    item.className = status;
    item.dataset.status = status;
    item.textContent = `${counts.get(status)} ${status}`;
    list.append(item);
  }
  const waiting = counts.get("waiting") || 0;
  document.title = `${waiting ? `(${waiting} waiting) ` : ""}orchestra${project ? ` · ${project}` : ""}`;
}

function showProblem(text) {
  const node = $("problem");
  node.hidden = !text;
  node.textContent = text || "";
}

function makeCard(name) {
  const card = $("card-template").content.firstElementChild.cloneNode(true);
  card.dataset.agent = name;
  card.querySelector(".name").textContent = name;
  card.querySelector(".send").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = event.target.elements.text;
    act(card, "send", { text: input.value }).then((ok) => {
      if (ok) input.value = "";
    });
  });
  card.querySelector(".conflict-mark").addEventListener("click", () => toggleConflicts(card));
  card.querySelector('[data-action="diff"]').addEventListener("click", () => showDiff(card));
  card.querySelector('[data-action="merge"]').addEventListener("click", () => act(card, "merge", {}));
  card.querySelector('[data-action="kill"]').addEventListener("click", () => kill(card));
  card.querySelector('[data-action="force-kill"]').addEventListener("click", () => forceKill(card));
  return card;
}

function updateCard(card, agent) {
  card.dataset.status = agent.status;
  card.dataset.since = agent.updated_at;
  const kind = agent.host ? `${agent.agent} on ${agent.host}` : agent.agent;
  // Lineage: an agent spawned by another (through orchestra mcp) says whose it is.
  card.querySelector(".kind").textContent = agent.parent ? `${kind} · child of ${agent.parent}` : kind;
  if (agent.parent) card.dataset.parent = agent.parent;
  else delete card.dataset.parent;
  card.querySelector(".status").textContent =
    agent.status === "queued" && agent.queue_position ? `queued #${agent.queue_position}` : agent.status;
  card.querySelector(".since").textContent = since(agent.updated_at);
  setText(card.querySelector(".task"), agent.task);
  setText(card.querySelector(".branch"), agent.branch + (agent.pull_request ? `  ${agent.pull_request}` : ""));
  renderChanges(card.querySelector(".changes"), agent.changes);
  renderUsage(card, agent.usage, agent.cost);
  renderConflicts(card, agent.conflicts_with || []);
  const note = noteOf(agent);
  const noteNode = card.querySelector(".note");
  noteNode.hidden = !note;
  setText(noteNode, note || "");
  const screen = card.querySelector(".screen");
  screen.hidden = !agent.screen;
  if (agent.screen) setText(screen, agent.screen.join("\n"));
  card.querySelector(".send button").disabled = !SENDABLE.has(agent.status);
  card.querySelector('[data-action="merge"]').disabled = !MERGEABLE.has(agent.status);
}

function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

function noteOf(agent) {
  if (agent.status === "queued") return `waits for ${agent.waits_for || "a free slot"}`;
  if (agent.status === "waiting") return `waiting for: ${agent.waiting_for || "an answer"}`;
  if (agent.status === "limited") {
    const until = agent.limited_until ? ` until ${new Date(agent.limited_until).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })}` : "";
    return `usage limit${until}, then orchestra tells it to go on${agent.error ? `: ${agent.error}` : ""}`;
  }
  if (agent.error) return agent.status === "failed" || agent.status === "lost" ? agent.error : `error: ${agent.error}`;
  if (agent.status === "failed" && agent.exit_code !== null) return `exited with code ${agent.exit_code}`;
  if (agent.last_message) return agent.last_message;
  return "";
}

function renderChanges(node, changes) {
  node.replaceChildren();
  if (!changes) {
    node.textContent = "–";
    return;
  }
  const added = document.createElement("span");
  added.className = "added";
  added.textContent = `+${changes.added}`;
  const removed = document.createElement("span");
  removed.className = "removed";
  removed.textContent = `−${changes.removed}`;
  const files = `${changes.files} file${changes.files === 1 ? "" : "s"}`;
  const untracked = changes.untracked ? `, ${changes.untracked} untracked` : "";
  node.append(added, " ", removed, ` (${files}${untracked})`);
}

// Tokens used, from the agent CLI's own records; hidden for a kind that keeps none (`usage` null).
function renderUsage(card, usage, cost) {
  const label = card.querySelector(".usage-label");
  const node = card.querySelector(".usage");
  label.hidden = node.hidden = !usage;
  if (!usage) return;
  const n = (count) => count.toLocaleString("en-US");
  let text = `${n(usage.input_tokens)} in, ${n(usage.output_tokens)} out, ` +
    `${n(usage.cache_read_tokens)} cache read, ${n(usage.cache_write_tokens)} cache write`;
  if (cost !== null && cost !== undefined) text += `, cost ~${cost.toFixed(4)}`;
  setText(node, text);
}

// -- conflicts: the mark from `conflicts_with`, the files from the stored forecast on a click --

function renderConflicts(card, names) {
  const box = card.querySelector(".conflicts");
  const before = box.dataset.with || "";
  const now = names.join("\n");
  box.hidden = names.length === 0;
  setText(card.querySelector(".conflict-mark"), names.length ? `✖ conflicts with ${names.join(", ")}` : "");
  if (before === now) return;
  box.dataset.with = now;
  const list = card.querySelector(".conflict-files");
  if (!names.length) closeConflicts(card);
  else if (!list.hidden) loadConflictFiles(card);
}

function closeConflicts(card) {
  card.querySelector(".conflict-files").hidden = true;
  card.querySelector(".conflict-mark").setAttribute("aria-expanded", "false");
}

function toggleConflicts(card) {
  if (!card.querySelector(".conflict-files").hidden) {
    closeConflicts(card);
    return;
  }
  card.querySelector(".conflict-mark").setAttribute("aria-expanded", "true");
  loadConflictFiles(card);
}

async function loadConflictFiles(card) {
  const list = card.querySelector(".conflict-files");
  const name = card.dataset.agent;
  try {
    const data = await api("GET", "/api/conflicts");
    list.replaceChildren(...conflictItems(data.forecast, name));
    if (!data.current) list.append(item("from the last forecast; a newer one is being made", "stale"));
  } catch (error) {
    list.replaceChildren(item(error.message, "error"));
  }
  list.hidden = false;
}

function conflictItems(forecast, name) {
  if (!forecast) return [item("no forecast yet", "stale")];
  const items = [];
  for (const pair of forecast.pairs) {
    if (!pair.conflicts.length || !pair.agents.includes(name)) continue;
    const other = pair.agents[0] === name ? pair.agents[1] : pair.agents[0];
    items.push(item(`with ${other}: ${pair.conflicts.join(", ")}`));
  }
  const own = forecast.agents[name];
  if (own && own.conflicts.length) items.push(item(`with ${forecast.target}: ${own.conflicts.join(", ")}`));
  return items.length ? items : [item("no conflicts in the last forecast", "stale")];
}

function item(text, className) {
  const node = document.createElement("li");
  node.textContent = text;
  if (className) node.className = className;
  return node;
}

function since(time) {
  const seconds = Math.max(0, Math.round((Date.now() - Date.parse(time)) / 1000));
  if (seconds < 60) return `for ${seconds}s`;
  if (seconds < 3600) return `for ${Math.floor(seconds / 60)}m ${seconds % 60}s`;
  if (seconds < 86400) return `for ${Math.floor(seconds / 3600)}h ${Math.floor((seconds % 3600) / 60)}m`;
  return `for ${Math.floor(seconds / 86400)}d`;
}

function tick() {
  for (const card of cards.values()) setText(card.querySelector(".since"), since(card.dataset.since));
}

// -- actions -----------------------------------------------------------------------------

class ApiError extends Error {
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

async function api(method, path, body) {
  const options = { method, headers: { Accept: "application/json", Authorization: `Bearer ${TOKEN}` } };
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  const response = await fetch(path, options);
  let data = null;
  try {
    data = await response.json();
  } catch (_) {
    data = null;
  }
  if (!response.ok) throw new ApiError((data && data.error) || `${response.status} ${response.statusText}`, response.status);
  return data;
}

function agentPath(card, action) {
  return `/api/agents/${encodeURIComponent(card.dataset.agent)}/${action}`;
}

function showResult(card, text, isError) {
  const node = card.querySelector(".result");
  node.hidden = !text;
  node.textContent = text;
  node.classList.toggle("error", Boolean(isError));
}

function notify(text, isError) {
  const node = $("notice");
  node.hidden = !text;
  node.textContent = text;
  node.classList.toggle("error", Boolean(isError));
}

async function act(card, action, body) {
  const buttons = card.querySelectorAll("button");
  buttons.forEach((b) => b.setAttribute("aria-busy", "true"));
  showResult(card, `${action}…`, false);
  try {
    const data = await api("POST", agentPath(card, action), body);
    showResult(card, data.message || `${action}: done`, false);
    return data;
  } catch (error) {
    showResult(card, error.message, true);
    if (action === "kill" && error.status === 409) card.querySelector('[data-action="force-kill"]').hidden = false;
    return null;
  } finally {
    buttons.forEach((b) => b.removeAttribute("aria-busy"));
  }
}

async function kill(card) {
  const data = await act(card, "kill", { force: false });
  if (data) notify(data.message, false);
}

function forceKill(card) {
  const dialog = $("confirm-dialog");
  $("confirm-text").textContent =
    `Kill ${card.dataset.agent} and remove its worktree and branch? Its unmerged work is first kept ` +
    "on a ref under refs/orchestra/trash/, from which one git command brings it back.";
  dialog.returnValue = "";
  dialog.addEventListener(
    "close",
    async () => {
      if (dialog.returnValue !== "yes") return;
      const data = await act(card, "kill", { force: true });
      if (data) notify(data.message, false);
    },
    { once: true },
  );
  dialog.showModal();
}

async function showDiff(card) {
  showResult(card, "", false);
  try {
    const data = await api("GET", agentPath(card, "diff"));
    $("diff-title").textContent = `diff of ${card.dataset.agent}`;
    $("diff-text").textContent = (data.diff || "(no changes)") + (data.truncated ? "\n… (cut short: see `orchestra diff`)" : "");
    $("diff-dialog").showModal();
  } catch (error) {
    showResult(card, error.message, true);
  }
}

async function spawn(event) {
  event.preventDefault();
  const form = event.target;
  const body = { task: form.elements.task.value, name: form.elements.name.value || null, agent: form.elements.agent.value || null };
  const button = form.querySelector('button[type="submit"]');
  button.disabled = true;
  notify("spawning…", false);
  try {
    const data = await api("POST", "/api/spawn", body);
    notify([data.message, ...(data.warnings || [])].join("\n"), false);
    form.elements.task.value = "";
    form.elements.name.value = "";
  } catch (error) {
    notify(error.message, true);
  } finally {
    button.disabled = false;
  }
}

async function loadKinds() {
  const select = document.querySelector('#spawn-form select[name="agent"]');
  try {
    const data = await api("GET", "/api/kinds");
    for (const kind of data.kinds) {
      const option = document.createElement("option");
      option.value = kind;
      option.textContent = kind;
      option.selected = kind === data.default;
      select.append(option);
    }
  } catch (error) {
    notify(error.message, true);
  }
}

async function loadStatuses() {
  try {
    const data = await api("GET", "/api/statuses");
    ORDER = data.order;
    SENDABLE = new Set(data.sendable);
    MERGEABLE = new Set(data.mergeable);
  } catch (error) {
    notify(error.message, true);
  }
}

document.addEventListener("DOMContentLoaded", async () => {
  if (!TOKEN) {
    showProblem(NO_TOKEN);
    setConnection("down", "no token");
    return;
  }
  $("spawn-form").addEventListener("submit", spawn);
  $("diff-close").addEventListener("click", () => $("diff-dialog").close());
  loadKinds();
  await loadStatuses();
  connect();
  setInterval(tick, 1000);
});
