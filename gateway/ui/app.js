// Switchyard's web UI: one page, hash routes, plain DOM. It calls the same HTTP API as faas-cli
// and curl (/system/* with the admin's basic-auth credentials, which it keeps for this tab only),
// and builds every element from text, never from HTML, so nothing a function returns can run.
"use strict";

// ---- The API -------------------------------------------------------------------------------

const session = {
  get auth() { return sessionStorage.getItem("sy-auth"); },
  set auth(value) { value ? sessionStorage.setItem("sy-auth", value) : sessionStorage.removeItem("sy-auth"); },
};

class ApiError extends Error {
  constructor(status, text) { super(text.trim() || `HTTP ${status}`); this.status = status; }
}

/** Calls the API; answers JSON (or text), throws ApiError with the server's own message. */
async function api(method, path, { body, text = false } = {}) {
  const headers = { "x-switchyard-ui": "1" };
  if (session.auth) headers.authorization = session.auth;
  if (body !== undefined) headers["content-type"] = "application/json";
  const response = await fetch(path, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
  });
  const answer = await response.text();
  if (response.status === 401) { session.auth = null; location.hash = "#/login"; }
  if (!response.ok) throw new ApiError(response.status, answer);
  if (text || !answer) return answer;
  return JSON.parse(answer);
}

// ---- Building the page ---------------------------------------------------------------------

/** h("a", {href: "#"}, "text", child): an element; strings become text nodes. */
function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === false || value === null || value === undefined) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else if (name === "class") element.className = value;
    else element.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : String(child));
  }
  return element;
}

const main = () => document.getElementById("main");

function render(...children) {
  main().replaceChildren(...children.flat().filter(c => c !== null && c !== undefined));
  main().focus({ preventScroll: true });
}

/** A table of `rows`; columns are [heading, row => cell, "num"?]. */
function table(columns, rows, empty = "Nothing yet.") {
  if (!rows.length) return h("div", { class: "table-wrap" }, h("div", { class: "empty" }, empty));
  return h("div", { class: "table-wrap" }, h("table", {},
    h("thead", {}, h("tr", {}, columns.map(([title, , kind]) => h("th", { class: kind }, title)))),
    h("tbody", {}, rows.map(row => h("tr", {}, columns.map(([, cell, kind]) => h("td", { class: kind }, cell(row))))))));
}

function fields(pairs) {
  return h("dl", { class: "fields" }, pairs.filter(([, v]) => v !== undefined && v !== null && v !== "")
    .flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
}

const badge = (text, kind = text) => h("span", { class: `badge ${kind}` }, text);
const when = t => t ? new Date(t).toLocaleString() : "";
const notice = () => h("div", { class: "notice", role: "status", "aria-live": "polite" });
function say(box, message, ok = false) { box.className = `notice ${ok ? "ok" : "error"}`; box.textContent = message; }
const pretty = text => { try { return JSON.stringify(JSON.parse(text), null, 2); } catch { return text; } };

/** A labelled field; `input` is an element (input, select, textarea). */
function row(label, input, hint) {
  const id = input.id || `f-${label.toLowerCase().replace(/[^a-z0-9]+/g, "-")}`;
  input.id = id;
  return h("div", { class: "row" }, h("label", { for: id }, label, hint ? h("span", { class: "hint" }, ` ${hint}`) : null), input);
}

function select(name, options, value) {
  return h("select", { name }, options.map(o => {
    const [v, label] = Array.isArray(o) ? o : [o, o];
    return h("option", { value: v, selected: v === value }, label);
  }));
}

/** Submits `form` through `action`, showing its error (or `done`) in `box`, the button busy meanwhile. */
function onSubmit(form, box, action) {
  form.addEventListener("submit", async event => {
    event.preventDefault();
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    box.className = "notice"; box.textContent = "";
    try { await action(new FormData(form)); }
    catch (error) { say(box, error.message); }
    finally { button.disabled = false; }
  });
}

/** "KEY=value" lines (or "Name: value" with `sep`) as an object; blank lines skipped. */
function pairs(text, sep = "=") {
  const out = {};
  for (const line of (text || "").split("\n").map(l => l.trim()).filter(Boolean)) {
    const at = line.indexOf(sep);
    if (at < 1) throw new Error(`"${line}": write one ${sep === "=" ? "KEY=value" : "Name: value"} per line`);
    out[line.slice(0, at).trim()] = line.slice(at + 1).trim();
  }
  return out;
}
const lines = object => Object.entries(object || {}).map(([k, v]) => `${k}=${v}`).join("\n");

// ---- Pages ---------------------------------------------------------------------------------

function loginPage() {
  const box = notice();
  const form = h("form", { class: "card login" },
    h("h1", {}, "Sign in"),
    h("p", { class: "muted" }, "The gateway's admin credentials (user admin; the password is in <data dir>/admin-password), or a token: a service account's API token or your identity provider's (OpenID Connect) token."),
    row("User", h("input", { name: "user", value: "admin", autocomplete: "username" })),
    row("Password", h("input", { name: "password", type: "password", autocomplete: "current-password", autofocus: true })),
    row("Or a token", h("input", { name: "token", type: "password", autocomplete: "off" }), "instead of user and password"),
    box,
    h("button", { class: "primary", type: "submit" }, "Sign in"));
  onSubmit(form, box, async data => {
    const token = data.get("token").trim();
    if (!token && !data.get("password")) throw new Error("Give the password, or a token.");
    session.auth = token ? `Bearer ${token}` : "Basic " + btoa(`${data.get("user")}:${data.get("password")}`);
    try { await api("GET", "/system/info"); }
    catch (error) { session.auth = null; throw new Error(error.status === 401 ? (token ? "That token is not accepted." : "Wrong user or password.") : error.message); }
    location.hash = "#/functions";
  });
  render(form);
}

async function namespaces() {
  return api("GET", "/system/namespaces");
}

async function functionsPage(params) {
  const namespace = params.get("namespace") || "openfaas-fn";
  const [list, spaces] = await Promise.all([
    api("GET", `/system/functions?namespace=${encodeURIComponent(namespace)}`), namespaces()]);
  const picker = select("namespace", spaces, namespace);
  picker.addEventListener("change", () => { location.hash = `#/functions?namespace=${picker.value}`; });
  const id = f => f.namespace === "openfaas-fn" ? f.name : `${f.name}.${f.namespace}`;
  render(
    h("div", { class: "bar" }, h("h1", {}, "Functions"), row("Namespace", picker),
      h("a", { href: `#/functions/new?namespace=${namespace}` }, h("button", { class: "primary", type: "button" }, "New function"))),
    table([
      ["Name", f => h("a", { href: `#/functions/${id(f)}` }, f.name)],
      ["Replicas", f => f.replicas, "num"],
      ["Available", f => h("span", {}, badge(String(f.availableReplicas || 0), (f.availableReplicas || 0) > 0 ? "ok" : "pending")), "num"],
      ["Invocations", f => f.invocationCount, "num"],
      ["Runs", f => h("span", { class: "mono" }, f.envProcess || f.image || "")],
      ["Created", f => when(f.createdAt)],
    ], list, `No functions in ${namespace}. Deploy one with "New function".`));
}

async function newFunctionPage(params) {
  const spaces = await namespaces();
  const box = notice();
  const kind = select("kind", [["process", "A process (process provider)"], ["image", "An image (Docker provider)"]], "process");
  const form = h("form", { class: "card" },
    h("div", { class: "grid" },
      row("Name", h("input", { name: "service", required: true, pattern: "[A-Za-z0-9][A-Za-z0-9_-]{0,62}", autofocus: true }), "letters, digits, - and _"),
      row("Namespace", select("namespace", spaces, params.get("namespace") || "openfaas-fn")),
      row("Runs", kind),
      row("Command or image", h("input", { name: "target", required: true, class: "mono" }), "e.g. cat, or sy/fn:1")),
    h("div", { class: "grid" },
      row("Environment", h("textarea", { name: "env" }), "KEY=value per line"),
      row("Labels", h("textarea", { name: "labels" }), "KEY=value per line"),
      row("Annotations", h("textarea", { name: "annotations" }), "KEY=value per line")),
    h("div", { class: "grid" },
      row("Secrets", h("input", { name: "secrets" }), "names, comma-separated"),
      row("Memory limit", h("input", { name: "memory", placeholder: "128Mi" })),
      row("CPU limit", h("input", { name: "cpu", placeholder: "0.5" }))),
    box,
    h("div", { class: "actions" }, h("button", { class: "primary", type: "submit" }, "Deploy"), h("a", { href: "#/functions" }, "Cancel")));
  onSubmit(form, box, async data => {
    const target = data.get("target").trim();
    const deployment = {
      service: data.get("service").trim(), namespace: data.get("namespace"),
      image: data.get("kind") === "image" ? target : "",
      envVars: pairs(data.get("env")), labels: pairs(data.get("labels")), annotations: pairs(data.get("annotations")),
      secrets: data.get("secrets").split(",").map(s => s.trim()).filter(Boolean),
    };
    if (data.get("kind") === "process") deployment.envProcess = target;
    const limits = { memory: data.get("memory").trim() || undefined, cpu: data.get("cpu").trim() || undefined };
    if (limits.memory || limits.cpu) deployment.limits = limits;
    await api("POST", "/system/functions", { body: deployment });
    const id = deployment.namespace === "openfaas-fn" ? deployment.service : `${deployment.service}.${deployment.namespace}`;
    location.hash = `#/functions/${id}`;
  });
  render(h("h1", {}, "New function"), form);
}

async function functionPage(params, id) {
  const [f, jobs] = await Promise.all([
    api("GET", `/system/function/${encodeURIComponent(id)}`),
    api("GET", `/system/jobs?function=${encodeURIComponent(id)}&limit=10`)]);
  const box = notice();
  const scale = h("form", { class: "actions" },
    h("input", { name: "replicas", type: "number", min: 0, max: 100, value: f.replicas, "aria-label": "Replicas", style: "width:6rem" }),
    h("button", { type: "submit" }, "Scale"));
  onSubmit(scale, box, async data => {
    await api("POST", `/system/scale-function/${encodeURIComponent(id)}`, { body: { serviceName: f.name, namespace: f.namespace, replicas: Number(data.get("replicas")) } });
    say(box, `Scaling to ${data.get("replicas")} replicas.`, true);
  });
  const remove = h("button", { class: "danger", type: "button", onclick: async () => {
    if (!confirm(`Remove ${id}?`)) return;
    try { await api("DELETE", "/system/functions", { body: { functionName: f.name, namespace: f.namespace } }); location.hash = "#/functions"; }
    catch (error) { say(box, error.message); }
  } }, "Remove");
  const map = m => Object.keys(m || {}).length ? h("pre", {}, lines(m)) : "";
  render(
    h("div", { class: "bar" }, h("h1", {}, f.name, " ", h("span", { class: "muted" }, f.namespace)),
      h("a", { href: `#/invoke?function=${encodeURIComponent(id)}` }, h("button", { class: "primary", type: "button" }, "Invoke")), remove),
    box,
    h("div", { class: "card" }, fields([
      ["Runs", h("span", { class: "mono" }, f.envProcess || f.image)],
      ["Replicas", `${f.availableReplicas || 0} available of ${f.replicas}`],
      ["Scale", scale],
      ["Invocations", f.invocationCount],
      ["Environment", Object.keys(f.envVars || {}).join(", ") || "none"],
      ["Secrets", (f.secrets || []).join(", ") || "none"],
      ["Limits", f.limits ? `memory ${f.limits.memory || "-"}, cpu ${f.limits.cpu || "-"}` : "none"],
      ["Labels", map(f.labels)],
      ["Annotations", map(f.annotations)],
      ["Created", when(f.createdAt)],
    ])),
    h("h2", {}, "Recent jobs"),
    jobsTable(jobs));
  // While replicas start or stop, look again shortly.
  if ((f.availableReplicas || 0) !== f.replicas) {
    const here = location.hash;
    setTimeout(() => { if (location.hash === here && !document.activeElement?.closest("form")) route(); }, 1000);
  }
}

function jobsTable(jobs) {
  return table([
    ["Call id", j => h("a", { class: "mono", href: `#/jobs/${j.callId}` }, j.callId)],
    ["Function", j => j.function],
    ["Status", j => badge(j.status)],
    ["Attempts", j => j.attempts, "num"],
    ["Last status", j => j.lastStatusCode || "", "num"],
    ["Created", j => when(j.createdAt)],
    ["Finished", j => when(j.finishedAt)],
  ], jobs, "No jobs.");
}

async function invokePage(params) {
  const box = notice();
  const answer = h("div", {});
  const functions = (await api("GET", "/system/functions")).map(f => f.name);
  const form = h("form", { class: "card" },
    h("div", { class: "grid" },
      row("Function", h("input", { name: "function", required: true, list: "fn-names", value: params.get("function") || "", autofocus: true }), "name or name.namespace"),
      row("Method", select("method", ["POST", "GET", "PUT", "PATCH", "DELETE"], "POST")),
      row("Path", h("input", { name: "path", value: "/", class: "mono" })),
      row("Query", h("input", { name: "query", placeholder: "a=1&b=2", class: "mono" }))),
    h("datalist", { id: "fn-names" }, functions.map(name => h("option", { value: name }))),
    h("div", { class: "grid" },
      row("Headers", h("textarea", { name: "headers", placeholder: "Content-Type: application/json" }), "Name: value per line"),
      row("Body", h("textarea", { name: "body" }))),
    h("div", { class: "row inline" },
      h("label", {}, h("input", { type: "radio", name: "mode", value: "sync", checked: true }), " Synchronous"),
      h("label", {}, h("input", { type: "radio", name: "mode", value: "async" }), " Asynchronous (a job)")),
    row("Callback URL", h("input", { name: "callback", type: "url", placeholder: "http://…" }), "asynchronous only, optional"),
    box,
    h("button", { class: "primary", type: "submit" }, "Send"));
  onSubmit(form, box, async data => {
    answer.replaceChildren();
    const fn = data.get("function").trim();
    const path = ("/" + data.get("path").trim()).replace(/^\/+/, "/");
    const query = data.get("query").trim();
    const headers = pairs(data.get("headers"), ":");
    const method = data.get("mode") === "async" ? "POST" : data.get("method");
    if (data.get("mode") === "async" && data.get("callback")) headers["X-Callback-Url"] = data.get("callback");
    const base = data.get("mode") === "async" ? "/async-function/" : "/function/";
    const url = base + encodeURIComponent(fn) + (path === "/" ? "" : path) + (query ? `?${query}` : "");
    const started = performance.now();
    const response = await fetch(url, { method, headers, body: ["GET", "HEAD"].includes(method) ? undefined : data.get("body") });
    const body = await response.text();
    const took = performance.now() - started;
    const callId = response.headers.get("x-call-id");
    answer.append(h("div", { class: "card", id: "answer" },
      h("h2", {}, "Answer"),
      fields([
        ["Status", badge(`${response.status} ${response.statusText}`, response.ok ? "ok" : "bad")],
        ["Call id", h("span", { class: "mono", id: "call-id" }, callId || "")],
        ["Duration", `${took.toFixed(1)} ms` + (response.headers.get("x-duration-seconds") ? ` (function: ${(1000 * response.headers.get("x-duration-seconds")).toFixed(1)} ms)` : "")],
        ["Headers", h("pre", {}, [...response.headers].map(([k, v]) => `${k}: ${v}`).join("\n"))],
        ["Body", h("pre", { id: "answer-body" }, pretty(body))],
      ])));
    if (data.get("mode") === "async" && response.status === 202 && callId) follow(callId, answer);
  });
  render(h("h1", {}, "Invoke"), form, answer);
}

/** Follows a job until it ends, then shows its record and its answer. */
async function follow(callId, into) {
  const progress = h("div", { class: "card", id: "job-progress" }, h("h2", {}, "Job"), h("p", {}, "Queued…"));
  into.append(progress);
  for (let wait = 250; location.hash.startsWith("#/invoke"); wait = Math.min(wait * 1.5, 2000)) {
    let job;
    try { job = await api("GET", `/system/jobs/${callId}`); }
    catch (error) { if (error.status !== 404) throw error; }
    if (job) {
      progress.replaceChildren(h("h2", {}, "Job ", badge(job.status)), jobFields(job));
      if (["succeeded", "failed", "cancelled"].includes(job.status)) {
        if (job.resultStored) progress.append(await resultView(callId));
        return;
      }
    }
    await new Promise(resolve => setTimeout(resolve, wait));
  }
}

function jobFields(job) {
  return fields([
    ["Call id", h("a", { class: "mono", href: `#/jobs/${job.callId}` }, job.callId)],
    ["Function", job.function],
    ["Status", badge(job.status)],
    ["Attempts", job.maxAttempts ? `${job.attempts} of ${job.maxAttempts}` : job.attempts],
    ["Created", when(job.createdAt)], ["Runs at", when(job.notBefore)], ["Started", when(job.startedAt)], ["Finished", when(job.finishedAt)],
    ["Last status", job.lastStatusCode], ["Last error", job.lastError],
    ["Callback", job.callbackUrl],
    ["Callback outcome", job.callback ? h("span", {}, badge(job.callback.status), ` after ${job.callback.attempts} attempt(s)`,
      job.callback.lastStatusCode ? `, HTTP ${job.callback.lastStatusCode}` : "", job.callback.lastError ? ` — ${job.callback.lastError}` : "") : ""],
    ["Dead-lettered", job.deadLettered ? "yes" : ""],
    ["Attempts made", job.history?.length ? attemptsTable(job.history) : ""],
  ]);
}

function attemptsTable(attempts) {
  return table([
    ["#", a => a.number, "num"], ["Started", a => when(a.startedAt)], ["Ended", a => when(a.endedAt)],
    ["Status", a => a.statusCode ? badge(String(a.statusCode), a.statusCode < 400 ? "ok" : "bad") : ""],
    ["Error", a => a.error || ""],
  ], attempts);
}

async function resultView(callId) {
  const response = await fetch(`/system/jobs/${callId}/result`, { headers: { authorization: session.auth, "x-switchyard-ui": "1" } });
  const body = await response.text();
  if (!response.ok) return h("p", { class: "muted" }, body);
  return h("div", { id: "job-result" }, h("h2", {}, "Result"), fields([
    ["Function status", badge(response.headers.get("x-function-status") || "", Number(response.headers.get("x-function-status")) < 400 ? "ok" : "bad")],
    ["Body", h("pre", { id: "result-body" }, pretty(body))],
  ]));
}

async function jobsPage(params) {
  const filter = new URLSearchParams();
  for (const key of ["function", "status"]) if (params.get(key)) filter.set(key, params.get(key));
  filter.set("limit", "200");
  const jobs = await api("GET", `/system/jobs?${filter}`);
  const form = h("form", { class: "bar" }, h("h1", {}, "Jobs"),
    row("Function", h("input", { name: "function", value: params.get("function") || "" })),
    row("Status", select("status", [["", "any"], "scheduled", "queued", "running", "succeeded", "failed", "cancelled"], params.get("status") || "")),
    h("button", { type: "submit" }, "Filter"));
  form.addEventListener("submit", event => {
    event.preventDefault();
    const data = new FormData(form);
    const query = new URLSearchParams([...data].filter(([, v]) => v));
    location.hash = `#/jobs?${query}`;
  });
  render(form, jobsTable(jobs));
}

async function jobPage(params, callId) {
  const job = await api("GET", `/system/jobs/${encodeURIComponent(callId)}`);
  render(h("h1", {}, "Job ", badge(job.status)), h("div", { class: "card" }, jobFields(job),
    job.resultStored ? await resultView(callId) : null));
}

// ---- Schedules -------------------------------------------------------------------------------

async function schedulesPage(params) {
  const namespace = params.get("namespace") || "";
  const schedules = await api("GET", `/system/schedules${namespace ? `?namespace=${encodeURIComponent(namespace)}` : ""}`);
  const preview = h("div", { id: "schedule-preview" });
  const toggle = s => h("button", { type: "button", onclick: async () => {
    await api("POST", `/system/schedules/${encodeURIComponent(s.function)}/${s.paused ? "resume" : "pause"}`);
    route();
  } }, s.paused ? "Resume" : "Pause");
  const chosen = params.get("function");
  if (chosen) {
    const next = await api("GET", `/system/schedules/${encodeURIComponent(chosen)}?count=10`);
    preview.replaceChildren(h("h2", {}, `Next ticks of ${next.function} (${next.timezone})`),
      table([["In UTC", t => h("span", { class: "mono" }, t)], ["Your local time", t => when(t)]], next.next));
  }
  render(
    h("h1", {}, "Schedules"),
    h("p", { class: "hint" }, "Functions deployed with the annotations topic: cron-function and schedule."),
    table([
      ["Function", s => h("a", { href: `#/schedules?function=${encodeURIComponent(s.function)}` }, s.function)],
      ["Schedule", s => h("span", { class: "mono" }, s.schedule)],
      ["Time zone", s => s.timezone],
      ["Next", s => s.paused ? badge("paused") : when(s.next)],
      ["Last tick", s => when(s.lastTick)],
      ["Outcome", s => s.lastOutcome ? badge(s.lastOutcome) : ""],
      ["Last job", s => s.lastCallId ? h("a", { class: "mono", href: `#/jobs/${s.lastCallId}` }, s.lastCallId) : ""],
      ["", toggle],
    ], schedules, "No scheduled functions."),
    preview);
}

// ---- Events: subscriptions, sources and the live viewer ------------------------------------

let viewer = null; // the live viewer's fetch, stopped when the page changes

async function eventsPage() {
  const [subscriptions, sources] = await Promise.all([api("GET", "/system/subscriptions"), api("GET", "/system/event-sources")]);
  const editors = h("div", {});
  const catalog = h("div", { id: "event-types" });
  const edit = form => { editors.replaceChildren(form); form.querySelector("input,select,textarea")?.focus(); };
  const removeButton = (what, path) => h("button", { class: "danger", type: "button", onclick: async () => {
    if (!confirm(`Delete ${what}?`)) return;
    await api("DELETE", path); route();
  } }, "Delete");
  render(
    h("h1", {}, "Events"),
    h("div", { class: "bar" }, h("h2", {}, "Subscriptions"), h("button", { type: "button", onclick: () => edit(subscriptionForm()) }, "New subscription")),
    table([
      ["Name", s => s.name], ["Function", s => s.function],
      ["Filters", s => h("code", {}, JSON.stringify(s.filters))],
      ["Starts", s => s.startAt], ["Created", s => when(s.createdAt)],
      ["", s => h("div", { class: "actions" }, h("button", { type: "button", onclick: () => edit(subscriptionForm(s)) }, "Edit"),
        removeButton(`subscription ${s.name}`, `/system/subscriptions/${s.name}`))],
    ], subscriptions, "No subscriptions."),
    h("div", { class: "bar" }, h("h2", {}, "Event sources"), h("button", { type: "button", onclick: () => edit(sourceForm()) }, "New source")),
    table([
      ["Name", s => s.name], ["Kind", s => s.kind],
      ["Status", s => badge(s.status?.state || "unknown")],
      ["Last error", s => s.status?.lastError || ""],
      ["Where", s => h("span", { class: "mono" }, s.kind === "webhook" ? `/webhook/${s.name}` : s.config.url)],
      ["", s => h("div", { class: "actions" }, h("button", { type: "button", onclick: () => edit(sourceForm(s)) }, "Edit"),
        removeButton(`source ${s.name}`, `/system/event-sources/${s.name}`))],
    ], sources, "No event sources."),
    editors,
    h("h2", {}, "Live events"),
    liveViewer(),
    h("div", { class: "bar" }, h("h2", {}, "Event types seen"),
      h("button", { type: "button", onclick: async () => catalog.replaceChildren(await catalogTable()) }, "Refresh")),
    catalog);
  catalog.replaceChildren(await catalogTable());
}

/** The event catalog: every type seen, per source, with counts and the latest example. */
async function catalogTable() {
  const types = await api("GET", "/system/event-types");
  return table([
    ["Source", t => t.source], ["Type", t => h("code", {}, t.type)], ["Count", t => t.count, "num"],
    ["Last seen", t => when(t.lastSeen)],
    ["Example", t => t.example ? h("details", {}, h("summary", {}, "data"), h("pre", {}, JSON.stringify(t.example.data ?? t.example, null, 2))) : ""],
  ], types, "No events yet.");
}

function subscriptionForm(current) {
  const box = notice();
  const form = h("form", { class: "card", id: "subscription-form" },
    h("h2", {}, current ? `Edit subscription ${current.name}` : "New subscription"),
    h("div", { class: "grid" },
      row("Name", h("input", { name: "name", required: true, value: current?.name || "", readonly: !!current })),
      row("Function", h("input", { name: "function", required: true, value: current?.function || "" }), "name or name.namespace"),
      row("Starts at", select("startAt", [["new", "new events"], ["all", "every retained event"]], current?.startAt === "all" ? "all" : "new"))),
    row("Filters", h("textarea", { name: "filters" }, JSON.stringify(current?.filters || [{ prefix: { type: "" } }], null, 1)),
      "Knative filters: exact, prefix, suffix, all, any, not"),
    h("div", { class: "row inline" }, h("label", {}, h("input", { type: "checkbox", name: "reply", checked: !!current?.reply }), " Publish the function's answer as an event")),
    box, h("div", { class: "actions" }, h("button", { class: "primary", type: "submit" }, current ? "Save" : "Create")));
  onSubmit(form, box, async data => {
    let filters;
    try { filters = JSON.parse(data.get("filters") || "[]"); } catch (e) { throw new Error(`Filters are not JSON: ${e.message}`); }
    const body = { name: data.get("name").trim(), function: data.get("function").trim(), filters, startAt: data.get("startAt"), reply: data.get("reply") === "on" };
    if (current) await api("PUT", `/system/subscriptions/${current.name}`, { body });
    else await api("POST", "/system/subscriptions", { body });
    route();
  });
  return form;
}

function sourceForm(current) {
  const box = notice();
  const kind = select("kind", ["webhook", "vcenter"], current?.kind || "webhook");
  if (current) kind.disabled = true;
  const config = current?.config || {};
  const keep = current ? "write-only; leave empty to keep" : "write-only";
  const webhook = h("div", { class: "grid" },
    row("Authentication", select("auth", [["token", "Bearer token"], ["hmacSecret", "HMAC signature"], ["basic", "Basic auth"], ["none", "None (open)"]], "token")),
    row("Secret", h("input", { name: "secret", type: "password", autocomplete: "new-password" }), keep),
    row("Basic user", h("input", { name: "user" }), "basic auth only"),
    row("Event type", h("input", { name: "type", value: config.type || "" }), "for plain payloads"),
    row("Rate limit", h("input", { name: "rateLimit", value: config.rateLimit || "", placeholder: "100/s" })));
  const vcenter = h("div", { class: "grid" },
    row("SDK URL", h("input", { name: "url", value: config.url || "", placeholder: "https://vcenter/sdk" })),
    row("User", h("input", { name: "username", value: config.username || "" })),
    row("Password", h("input", { name: "password", type: "password", autocomplete: "new-password" }), keep),
    h("div", { class: "row inline" }, h("label", {}, h("input", { type: "checkbox", name: "insecure", checked: !!config.insecure }), " Accept any certificate")),
    h("div", { class: "row inline" }, h("label", {}, h("input", { type: "checkbox", name: "allowPlainHttp", checked: !!config.allowPlainHttp }), " Allow plain http")));
  const shown = () => { webhook.hidden = kind.value !== "webhook"; vcenter.hidden = kind.value !== "vcenter"; };
  kind.addEventListener("change", shown); shown();
  const form = h("form", { class: "card", id: "source-form" },
    h("h2", {}, current ? `Edit source ${current.name}` : "New event source"),
    h("div", { class: "grid" }, row("Name", h("input", { name: "name", required: true, value: current?.name || "", readonly: !!current })), row("Kind", kind)),
    webhook, vcenter, box,
    h("div", { class: "actions" }, h("button", { class: "primary", type: "submit" }, current ? "Save" : "Create")));
  onSubmit(form, box, async data => {
    const name = data.get("name").trim();
    let body;
    if (kind.value === "webhook") {
      const cfg = { type: data.get("type").trim() || undefined, rateLimit: data.get("rateLimit").trim() || undefined };
      const method = data.get("auth"), secret = data.get("secret");
      if (method === "none") cfg.auth = { none: true };
      else if (secret) cfg.auth = method === "basic" ? { basic: { username: data.get("user"), password: secret } } : { [method]: secret };
      else if (!current) throw new Error("Give the secret callers will use, or choose None.");
      body = { name, kind: "webhook", config: cfg };
    } else {
      body = { name, kind: "vcenter", config: { url: data.get("url").trim(), username: data.get("username").trim(),
        password: data.get("password"), insecure: data.get("insecure") === "on", allowPlainHttp: data.get("allowPlainHttp") === "on" } };
    }
    if (current) await api("PUT", `/system/event-sources/${name}`, { body });
    else await api("POST", "/system/event-sources", { body });
    route();
  });
  return form;
}

function liveViewer() {
  const list = h("div", { class: "events", id: "live-events", "aria-live": "polite" });
  const state = h("span", { class: "muted" }, "Stopped.");
  const form = h("form", { class: "bar" },
    row("Type starts with", h("input", { name: "type" })),
    row("Source starts with", h("input", { name: "source" })),
    row("Ingress", h("input", { name: "ingress" }), "source name"),
    h("button", { type: "submit", class: "primary", id: "live-toggle" }, "Start"), state);
  form.addEventListener("submit", event => {
    event.preventDefault();
    const button = form.querySelector("button");
    if (viewer) { viewer.abort(); viewer = null; button.textContent = "Start"; state.textContent = "Stopped."; return; }
    const query = new URLSearchParams([...new FormData(form)].filter(([, v]) => v));
    viewer = new AbortController();
    button.textContent = "Stop";
    state.textContent = "Waiting for events…";
    stream(`/system/events/stream?${query}`, viewer.signal, (sequence, event) => {
      state.textContent = `Last event #${sequence}.`;
      list.prepend(eventCard(sequence, event));
      while (list.children.length > 200) list.lastChild.remove();
    }).catch(error => { if (error.name !== "AbortError") { state.textContent = `Stopped: ${error.message}`; viewer = null; button.textContent = "Start"; } });
  });
  return h("div", {}, form, list);
}

/** Reads server-sent events from `url` (fetch, so that the credentials go as a header). */
async function stream(url, signal, onEvent) {
  const response = await fetch(url, { headers: { authorization: session.auth, "x-switchyard-ui": "1" }, signal });
  if (!response.ok) throw new Error(await response.text());
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) throw new Error("the gateway closed the stream");
    buffer += value;
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end); buffer = buffer.slice(end + 2);
      let id = "", data = "";
      for (const line of block.split("\n")) {
        if (line.startsWith("id:")) id = line.slice(3).trim();
        else if (line.startsWith("data:")) data += line.slice(5).trimStart();
      }
      if (data) onEvent(id, JSON.parse(data));
    }
  }
}

/** Base64 data as text when it is UTF-8, else says how many bytes it holds. */
function fromBase64(encoded) {
  const bytes = Uint8Array.from(atob(encoded), c => c.charCodeAt(0));
  try { return pretty(new TextDecoder("utf-8", { fatal: true }).decode(bytes)); }
  catch { return `(${bytes.length} bytes of binary data)`; }
}

function eventCard(sequence, event) {
  const { data, data_base64, ...attributes } = event;
  const shown = data_base64 ? fromBase64(data_base64) : typeof data === "string" ? pretty(data) : JSON.stringify(data, null, 2);
  return h("div", { class: "event" },
    h("div", { class: "head" }, h("strong", {}, event.type), h("span", { class: "mono muted" }, event.source), h("span", { class: "muted" }, `#${sequence}`, " · ", when(event.time))),
    h("details", {}, h("summary", {}, "Attributes"), h("pre", {}, Object.entries(attributes).map(([k, v]) => `${k}: ${v}`).join("\n"))),
    data === undefined && !data_base64 ? null : h("pre", { class: "event-data" }, shown));
}

// ---- Dead letters, secrets, the API --------------------------------------------------------

async function deadLettersPage(params) {
  const fn = params.get("function") || "";
  const letters = await api("GET", `/system/dead-letters?limit=200${fn ? `&function=${encodeURIComponent(fn)}` : ""}`);
  const box = notice();
  const details = h("div", {});
  const act = async (what, action) => {
    try { const message = await action(); say(box, message, true); setTimeout(route, 800); } catch (error) { say(box, `${what}: ${error.message}`); }
  };
  const form = h("form", { class: "bar" }, h("h1", {}, "Dead letters"), row("Function", h("input", { name: "function", value: fn })),
    h("button", { type: "submit" }, "Filter"),
    h("button", { type: "button", onclick: () => act("Redrive all", async () => {
      const answer = await api("POST", `/system/dead-letters/redrive${fn ? `?function=${encodeURIComponent(fn)}` : ""}`);
      return `Redriven: ${answer.redriven.length}.`;
    }) }, "Redrive all not yet redriven"));
  form.addEventListener("submit", event => { event.preventDefault(); location.hash = `#/dead-letters?function=${encodeURIComponent(new FormData(form).get("function"))}`; });
  render(form, box,
    table([
      ["Id", d => d.id, "num"],
      ["Function", d => d.failure.function],
      ["Why", d => h("span", {}, badge(d.failure.reason, "bad"), " ", d.failure.status ? `HTTP ${d.failure.status}` : "", " ", d.failure.error)],
      ["Attempts", d => d.failure.attempts, "num"],
      ["Died", d => when(d.failure.time)],
      ["Redriven", d => d.redrive ? h("a", { class: "mono", href: `#/jobs/${d.redrive.callId}` }, d.redrive.callId) : ""],
      ["", d => h("div", { class: "actions" },
        h("button", { type: "button", onclick: async () => details.replaceChildren(await letterView(d.id)) }, "Inspect"),
        h("button", { type: "button", class: "primary", onclick: () => act(`Redrive ${d.id}`, async () => {
          const answer = await api("POST", `/system/dead-letters/${d.id}/redrive`);
          return `Dead letter ${d.id} sent again as job ${answer.callId}.`;
        }) }, "Redrive"),
        h("button", { type: "button", class: "danger", onclick: () => confirm(`Purge dead letter ${d.id}?`) && act(`Purge ${d.id}`, async () => {
          await api("DELETE", `/system/dead-letters/${d.id}`); return `Dead letter ${d.id} purged.`;
        }) }, "Purge"))],
    ], letters, "No dead letters."),
    details);
}

async function letterView(id) {
  const d = await api("GET", `/system/dead-letters/${id}`);
  const i = d.invocation || {};
  return h("div", { class: "card", id: "dead-letter" }, h("h2", {}, `Dead letter ${d.id}`), fields([
    ["Call id", d.callId], ["Function", d.failure.function], ["Reason", d.failure.reason],
    ["Status", d.failure.status], ["Attempts", d.failure.attempts], ["Error", d.failure.error], ["Died", when(d.failure.time)],
    ["Request", h("span", { class: "mono" }, `${i.method || ""} ${i.path || ""}${i.query ? `?${i.query}` : ""}`)],
    ["Headers", h("pre", {}, (i.headers || []).map(([k, v]) => `${k}: ${v}`).join("\n"))],
    ["Body", h("pre", {}, pretty(i.body || ""))],
    ["Callback", i.callbackUrl],
    ["Attempts made", d.attempts?.length ? attemptsTable(d.attempts) : ""],
  ]));
}

async function secretsPage(params) {
  const namespace = params.get("namespace") || "openfaas-fn";
  const [secrets, spaces] = await Promise.all([api("GET", `/system/secrets?namespace=${encodeURIComponent(namespace)}`), namespaces()]);
  const box = notice();
  const picker = select("namespace", spaces, namespace);
  picker.addEventListener("change", () => { location.hash = `#/secrets?namespace=${picker.value}`; });
  const form = h("form", { class: "card" }, h("h2", {}, "New secret"),
    h("div", { class: "grid" }, row("Name", h("input", { name: "name", required: true })),
      row("Value", h("input", { name: "value", type: "password", required: true, autocomplete: "new-password" }), "write-only")),
    box, h("button", { class: "primary", type: "submit" }, "Create"));
  onSubmit(form, box, async data => {
    await api("POST", "/system/secrets", { body: { name: data.get("name").trim(), namespace, value: data.get("value") } });
    route();
  });
  render(h("div", { class: "bar" }, h("h1", {}, "Secrets"), row("Namespace", picker)),
    h("p", { class: "muted" }, "Values are sealed when stored and never shown again; functions that name a secret read it as a file."),
    table([["Name", s => s.name], ["", s => h("button", { class: "danger", type: "button", onclick: async () => {
      if (!confirm(`Remove secret ${s.name}?`)) return;
      try { await api("DELETE", "/system/secrets", { body: { name: s.name, namespace } }); route(); } catch (error) { say(box, error.message); }
    } }, "Remove")]], secrets, "No secrets in this namespace."),
    form);
}

async function routesPage(params) {
  const namespace = params.get("namespace") || "openfaas-fn";
  const [routes, spaces] = await Promise.all([api("GET", `/system/routes?namespace=${encodeURIComponent(namespace)}`), namespaces()]);
  const box = notice();
  const picker = select("namespace", spaces, namespace);
  picker.addEventListener("change", () => { location.hash = `#/routes?namespace=${picker.value}`; });
  const form = h("form", { class: "card", id: "route-form" }, h("h2", {}, "New route"),
    h("div", { class: "grid" },
      row("Name", h("input", { name: "name", required: true })),
      row("Function", h("input", { name: "function", required: true }), `in ${namespace}`),
      row("Path", h("input", { name: "path", required: true, placeholder: "/users/{id}" }), "{name} matches one segment"),
      row("Match", select("match", ["exact", "prefix"], "exact")),
      row("Methods", h("input", { name: "methods", placeholder: "GET, POST" }), "empty: any"),
      row("Hosts", h("input", { name: "hosts", placeholder: "api.example.com, *.example.com" }), "empty: any"),
      row("Authentication", select("auth", [["public", "public"], ["basic", "basic (Switchyard's credentials)"], ["api-key", "API key (X-API-Key)"]], "public")),
      row("API keys", h("input", { name: "keys", type: "password", autocomplete: "new-password" }), "comma-separated, 16+ characters, write-only"),
      row("Asynchronous", h("input", { name: "async", type: "checkbox" }), "answer 202 and queue a job")),
    box, h("button", { class: "primary", type: "submit" }, "Create"));
  const list = text => (text || "").split(",").map(t => t.trim()).filter(Boolean);
  onSubmit(form, box, async data => {
    const auth = { type: data.get("auth") };
    if (auth.type === "api-key") auth.keys = list(data.get("keys"));
    await api("POST", "/system/routes", { body: {
      name: data.get("name").trim(), namespace, function: data.get("function").trim(), path: data.get("path").trim(),
      pathMatch: data.get("match"), methods: list(data.get("methods")).map(m => m.toUpperCase()), hosts: list(data.get("hosts")),
      async: data.get("async") === "on", auth } });
    route();
  });
  render(h("div", { class: "bar" }, h("h1", {}, "Routes"), row("Namespace", picker)),
    h("p", { class: "muted" }, "A route binds hosts, a path and methods to a function: requests that match invoke it as /function/NAME would, with the path parameters as X-Route-Param-* headers."),
    table([["Name", r => r.name], ["Hosts", r => (r.hosts || []).join(", ") || "any"], ["Path", r => h("code", {}, r.path + (r.pathMatch === "prefix" ? " …" : ""))],
      ["Methods", r => (r.methods || []).join(", ") || "any"], ["Function", r => h("a", { href: `#/functions/${encodeURIComponent(r.function)}` }, r.function)],
      ["Mode", r => r.async ? badge("async", "queued") : badge("sync", "running")], ["Auth", r => r.auth.type + (r.auth.type === "api-key" ? ` (${r.auth.keys} keys)` : "")],
      ["", r => h("button", { class: "danger", type: "button", onclick: async () => {
        if (!confirm(`Remove route ${r.name}?`)) return;
        try { await api("DELETE", `/system/routes/${encodeURIComponent(r.name)}?namespace=${encodeURIComponent(namespace)}`); route(); } catch (error) { say(box, error.message); }
      } }, "Remove")]], routes, "No routes in this namespace."),
    form);
}

async function accessPage(params) {
  const organization = params.get("organization") || "default";
  const [organizations, policies, accounts, audit] = await Promise.all([
    api("GET", "/system/organizations"),
    api("GET", `/system/policies?organization=${encodeURIComponent(organization)}`),
    api("GET", `/system/service-accounts?organization=${encodeURIComponent(organization)}`),
    api("GET", "/system/audit?limit=20").catch(() => null),
  ]);
  const tokens = await Promise.all(accounts.map(a => api("GET", `/system/service-accounts/${encodeURIComponent(organization)}/${encodeURIComponent(a.name)}/tokens`)));
  const picker = select("organization", ["default", ...organizations.map(o => o.name)], organization);
  picker.addEventListener("change", () => { location.hash = `#/access?organization=${picker.value}`; });
  const box = notice();
  const shown = h("div", { id: "new-token" });

  const orgForm = h("form", { class: "card", id: "organization-form" }, h("h2", {}, "New organization"),
    row("Name", h("input", { name: "name", required: true })), h("button", { class: "primary", type: "submit" }, "Create"));
  onSubmit(orgForm, box, async data => {
    await api("POST", "/system/organizations", { body: { name: data.get("name").trim() } });
    location.hash = `#/access?organization=${data.get("name").trim()}`;
  });
  const policyForm = h("form", { class: "card", id: "policy-form" }, h("h2", {}, `New policy in ${organization}`),
    h("div", { class: "grid" },
      row("Name", h("input", { name: "name", required: true })),
      row("Role", select("role", ["viewer", "invoker", "developer", "admin"], "viewer")),
      row("Namespace", h("input", { name: "namespace" }), "empty: the whole organization"),
      row("Subjects", h("input", { name: "subjects", required: true, placeholder: "user:alice, group:eng, serviceaccount:ci" }))),
    h("button", { class: "primary", type: "submit" }, "Create"));
  onSubmit(policyForm, box, async data => {
    const body = { name: data.get("name").trim(), organization, role: data.get("role"),
      subjects: data.get("subjects").split(",").map(s => s.trim()).filter(Boolean) };
    if (data.get("namespace").trim()) body.namespace = data.get("namespace").trim();
    await api("POST", "/system/policies", { body });
    route();
  });
  const accountForm = h("form", { class: "card", id: "account-form" }, h("h2", {}, `New service account in ${organization}`),
    row("Name", h("input", { name: "name", required: true })), h("button", { class: "primary", type: "submit" }, "Create"));
  onSubmit(accountForm, box, async data => {
    await api("POST", "/system/service-accounts", { body: { name: data.get("name").trim(), organization } });
    route();
  });
  const issue = async account => {
    try {
      const token = await api("POST", `/system/service-accounts/${encodeURIComponent(organization)}/${encodeURIComponent(account)}/tokens`, { body: { expiresIn: "720h" } });
      shown.replaceChildren(h("div", { class: "notice ok" }, `Token for ${account} (copy it now: it is not shown again): `, h("code", { id: "token-value" }, token.token)));
    } catch (error) { say(box, error.message); }
  };
  render(h("div", { class: "bar" }, h("h1", {}, "Access"), row("Organization", picker)),
    h("p", { class: "muted" }, "Policies bind users and groups (from your identity provider) and service accounts to a role, in the whole organization or one namespace. Tokens are shown once and stored only as digests."),
    box, shown,
    h("h2", {}, "Policies"),
    table([["Name", p => p.name], ["Role", p => badge(p.role, "running")], ["Namespace", p => p.namespace || "all"], ["Subjects", p => p.subjects.join(", ")],
      ["", p => h("button", { class: "danger", type: "button", onclick: async () => {
        try { await api("DELETE", `/system/policies/${encodeURIComponent(organization)}/${encodeURIComponent(p.name)}`); route(); } catch (error) { say(box, error.message); }
      } }, "Remove")]], policies, "No policies in this organization."),
    policyForm,
    h("h2", {}, "Service accounts"),
    table([["Name", a => a.name], ["Tokens", (a) => {
        const mine = tokens[accounts.indexOf(a)] || [];
        return h("ul", { class: "plain" }, mine.map(t => h("li", {}, h("code", {}, t.id), " ", t.revokedAt ? badge("revoked", "failed") : `until ${when(t.expiresAt)}`, " ",
          t.revokedAt ? null : h("button", { class: "link", type: "button", onclick: async () => {
            try { await api("DELETE", `/system/tokens/${encodeURIComponent(t.id)}`); route(); } catch (error) { say(box, error.message); }
          } }, "Revoke"))));
      }],
      ["", a => h("button", { type: "button", onclick: () => issue(a.name) }, "Issue token")]], accounts, "No service accounts in this organization."),
    accountForm,
    h("h2", {}, "Organizations"),
    table([["Name", o => o.name], ["Created", o => when(o.createdAt)]], organizations, "Only the default organization."),
    orgForm,
    audit ? [h("h2", {}, "Latest changes (audit log)"),
      table([["When", e => when(e.time)], ["Who", e => e.who], ["What", e => h("code", {}, `${e.method} ${e.path}`)], ["Outcome", e => badge(e.outcome, e.outcome === "done" ? "succeeded" : "failed")]], audit, "No changes yet.")] : null);
}

async function apiPage() {
  const doc = await api("GET", "/system/openapi.json");
  const byTag = new Map((doc.tags || []).map(t => [t.name, { tag: t, operations: [] }]));
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      const tag = (op.tags || ["other"])[0];
      if (!byTag.has(tag)) byTag.set(tag, { tag: { name: tag }, operations: [] });
      byTag.get(tag).operations.push({ path, method, op });
    }
  }
  const schemaName = content => {
    const schema = Object.values(content || {})[0]?.schema;
    if (!schema) return "";
    const ref = schema.$ref || schema.items?.$ref;
    return ref ? (schema.items ? `[${ref.split("/").pop()}]` : ref.split("/").pop()) : Object.keys(content)[0];
  };
  render(h("div", { class: "bar" }, h("h1", {}, `${doc.info.title} API ${doc.info.version}`),
    h("a", { href: "#", onclick: async e => { e.preventDefault(); const w = window.open(); w.document.body.textContent = JSON.stringify(doc, null, 2); } }, "openapi.json")),
    h("p", { class: "muted" }, doc.info.description),
    [...byTag.values()].map(({ tag, operations }) => h("section", {},
      h("h2", {}, tag.name, tag.description ? h("span", { class: "hint" }, ` — ${tag.description}`) : null),
      operations.map(({ path, method, op }) => h("details", { class: "card" },
        h("summary", {}, h("span", { class: "method" }, method), " ", h("code", {}, path), op.security?.some(s => s.basic) ? h("span", { class: "hint" }, " · signed in") : null),
        op.description ? h("p", {}, op.description) : null,
        op.parameters?.length ? h("div", {}, h("strong", {}, "Parameters"), table([["Name", p => h("code", {}, p.name)], ["In", p => p.in], ["About", p => p.description || ""]], op.parameters)) : null,
        op.requestBody ? h("p", {}, h("strong", {}, "Request body: "), h("code", {}, schemaName(op.requestBody.content))) : null,
        h("div", {}, h("strong", {}, "Answers"), table([["Status", ([code]) => code], ["Meaning", ([, r]) => r.description || ""], ["Body", ([, r]) => h("code", {}, schemaName(r.content))]],
          Object.entries(op.responses || {}))))))));
}

// ---- Routing -------------------------------------------------------------------------------

const pages = [
  [/^#\/login$/, loginPage],
  [/^#\/functions$/, functionsPage],
  [/^#\/functions\/new$/, newFunctionPage],
  [/^#\/functions\/(.+)$/, functionPage],
  [/^#\/invoke$/, invokePage],
  [/^#\/jobs$/, jobsPage],
  [/^#\/jobs\/(.+)$/, jobPage],
  [/^#\/schedules$/, schedulesPage],
  [/^#\/events$/, eventsPage],
  [/^#\/dead-letters$/, deadLettersPage],
  [/^#\/secrets$/, secretsPage],
  [/^#\/routes$/, routesPage],
  [/^#\/access$/, accessPage],
  [/^#\/api$/, apiPage],
];

async function route() {
  if (viewer) { viewer.abort(); viewer = null; }
  const [path, query = ""] = (location.hash || "#/functions").split("?");
  const signedIn = !!session.auth;
  document.getElementById("nav").hidden = !signedIn;
  document.getElementById("signout").hidden = !signedIn;
  if (!signedIn && path !== "#/login") { location.hash = "#/login"; return; }
  for (const link of document.querySelectorAll("#nav a")) link.classList.toggle("current", path.startsWith(link.getAttribute("href")));
  const found = pages.find(([pattern]) => pattern.test(path));
  if (!found) { location.hash = "#/functions"; return; }
  const [pattern, page] = found;
  const args = path.match(pattern).slice(1).map(decodeURIComponent);
  try { await page(new URLSearchParams(query), ...args); }
  catch (error) {
    if (error.status === 401) return;
    render(h("h1", {}, "Something went wrong"), h("div", { class: "notice error" }, error.message), h("p", {}, h("a", { href: "#/functions" }, "Back to functions")));
  }
}

window.addEventListener("hashchange", route);
window.addEventListener("DOMContentLoaded", () => {
  document.getElementById("signout").addEventListener("click", () => { session.auth = null; location.hash = "#/login"; });
  route();
});
