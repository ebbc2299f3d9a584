// Earshot console: one ES module, no build step. Pages are rendered from the URL fragment
// (#/temperature, #/meetings/<id>, ...) and call the public API of the gateway only.
// Tokens live in memory (this module's `session`), never in storage: a reload signs out.
// Libraries (vendored, see docs/console.md): Chart.js (charts), wavesurfer.js (waveforms,
// spectrograms, regions). The browser's own <video>/<audio> elements play media.

const MEETINGS = "/api/v1/web"; // seed 003, web surface
const CRM = "/api/v1/crm";
const session = { access: null, refresh: null, user: null };
const cleanups = []; // run when the page changes (timers, sockets, players, charts)

// ---------------------------------------------------------------------------------- DOM
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (k === "text") el.textContent = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}
let uid = 0;
const nextId = (p) => `${p}-${++uid}`;
function field(labelText, input, hint) {
  input.id = input.id || nextId("f");
  const parts = [labelText, input];
  if (hint) {
    const hid = nextId("hint");
    input.setAttribute("aria-describedby", hid);
    parts.push(h("span", { class: "muted", id: hid }, hint));
  }
  return h("label", { for: input.id }, ...parts);
}
const errorBox = () => h("div", { class: "error", role: "alert" });
function showError(box, err) {
  box.textContent = err instanceof ApiError ? err.message : `Something went wrong: ${err?.message || err}`;
}
const fmtTime = (s) => {
  s = Math.max(0, Number(s) || 0);
  const m = Math.floor(s / 60);
  return `${m}:${(s - m * 60).toFixed(1).padStart(4, "0")}`;
};
const fmtDate = (iso) => (iso ? new Date(iso).toLocaleString() : "");
const round = (x, n = 1) => (x === null || x === undefined || Number.isNaN(Number(x)) ? "n/a" : Number(x).toFixed(n));

function dropZone(labelText, { accept, multiple = false, name } = {}) {
  const input = h("input", { type: "file", accept, name, multiple });
  const zone = h("div", { class: "drop" }, field(labelText, input, "Choose a file or drop it here."));
  zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (e) => {
    e.preventDefault();
    zone.classList.remove("over");
    if (e.dataTransfer?.files?.length) input.files = e.dataTransfer.files;
  });
  return { zone, input };
}
// A table in a focusable region that scrolls sideways on its own (the page never does).
function tbl(attrs, ...children) {
  return h("div", { class: "table-wrap", tabindex: "0", role: "region", "aria-label": attrs["aria-label"] || "Table" }, h("table", attrs, ...children));
}
function metric(label, value) {
  return h("div", { class: "metric" }, h("span", { class: "muted" }, label), h("span", { class: "value" }, value));
}
function download(name, blob) {
  const url = URL.createObjectURL(blob);
  const a = h("a", { href: url, download: name, class: "visually-hidden" }, name);
  document.body.append(a);
  a.click();
  setTimeout(() => { a.remove(); URL.revokeObjectURL(url); }, 1000);
}

// ---------------------------------------------------------------------------------- API
class ApiError extends Error {
  constructor(status, title, details) {
    super(`${title}${details ? `: ${details}` : ""}${status ? ` (HTTP ${status})` : ""}`);
    this.status = status;
    this.title = title;
    this.details = details;
  }
}
function describe(value) {
  if (value === null || value === undefined) return "";
  if (typeof value === "string") return value;
  if (Array.isArray(value)) return value.map((v) => (v && v.msg ? `${(v.loc || []).slice(1).join(".")}: ${v.msg}` : describe(v))).join("; ");
  if (typeof value === "object") return value.message || value.details || value.detail || JSON.stringify(value);
  return String(value);
}
async function toError(res) {
  let body = null;
  try { body = await res.json(); } catch { /* not JSON */ }
  if (res.status === 404 && body && body.details === "Not Found") {
    // the gateway has no such route: the product is not deployed on this server
    return new ApiError(404, "Not available", "this server does not offer this feature yet");
  }
  if (body && typeof body.error === "string") return new ApiError(res.status, body.error, describe(body.details));
  if (body && body.error && typeof body.error === "object") return new ApiError(res.status, body.error.type || "Error", describe(body.error.message));
  if (body && body.detail) return new ApiError(res.status, res.statusText || "Error", describe(body.detail));
  const titles = { 404: "Not available", 401: "Please sign in", 503: "Service unavailable" };
  return new ApiError(res.status, titles[res.status] || res.statusText || "Request failed", "");
}
function authHeaders(extra = {}) {
  return session.access ? { ...extra, Authorization: `Bearer ${session.access}` } : extra;
}
async function refreshTokens() {
  if (!session.refresh) return false;
  const res = await fetch(`${MEETINGS}/auth/refresh`, {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ refresh_token: session.refresh }),
  });
  if (!res.ok) return false;
  signedIn(await res.json());
  return true;
}
// fetch with the access token; a 401 refreshes once. `as`: "json" | "blob" | "text" | "response".
async function api(path, { method = "GET", json, form, as = "json", retry = true } = {}) {
  const headers = authHeaders(json !== undefined ? { "Content-Type": "application/json" } : {});
  let res;
  try {
    res = await fetch(path, { method, headers, body: json !== undefined ? JSON.stringify(json) : form });
  } catch (err) {
    throw new ApiError(0, "The gateway cannot be reached", String(err.message || err));
  }
  if (res.status === 401 && retry && session.refresh && (await refreshTokens())) {
    return api(path, { method, json, form, as, retry: false });
  }
  if (!res.ok) throw await toError(res);
  if (as === "response") return res;
  if (as === "blob") return res.blob();
  if (as === "text") return res.text();
  return res.status === 204 ? null : res.json();
}
// Multipart upload with a progress callback (XMLHttpRequest reports upload progress; fetch does not).
function upload(path, form, onProgress, { method = "POST" } = {}) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(method, path);
    for (const [k, v] of Object.entries(authHeaders())) xhr.setRequestHeader(k, v);
    xhr.upload.onprogress = (e) => { if (e.lengthComputable && onProgress) onProgress(e.loaded / e.total); };
    xhr.onerror = () => reject(new ApiError(0, "The gateway cannot be reached", "the upload was interrupted"));
    xhr.onload = async () => {
      const res = new Response(xhr.responseText, { status: xhr.status, statusText: xhr.statusText,
        headers: { "Content-Type": xhr.getResponseHeader("Content-Type") || "application/json" } });
      if (xhr.status === 401 && session.refresh && (await refreshTokens())) {
        upload(path, form, onProgress, { method }).then(resolve, reject);
        return;
      }
      if (xhr.status < 200 || xhr.status >= 300) reject(await toError(res));
      else resolve(xhr.responseText ? JSON.parse(xhr.responseText) : null);
    };
    xhr.send(form);
  });
}
// A WebSocket to this gateway carrying the access token as the subprotocol pair
// "bearer, <token>" (browsers cannot set Authorization on a WebSocket; tokens stay out of URLs).
function openSocket(url) {
  return session.access ? new WebSocket(url, ["bearer", session.access]) : new WebSocket(url);
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
function pageAlive(token) { return token === routeToken; }

// ---------------------------------------------------------------------------------- session
function signedIn(tokens) {
  session.access = tokens.access_token || tokens.token;
  session.refresh = tokens.refresh_token || session.refresh;
  if (tokens.user) session.user = tokens.user;
  renderWho();
}
function signedOut() {
  session.access = session.refresh = session.user = null;
  renderWho();
}
function renderWho() {
  const who = document.getElementById("who");
  who.replaceChildren(session.user
    ? `Signed in as ${session.user.name || session.user.email}`
    : h("a", { href: "#/signin" }, "Sign in"));
}

// ---------------------------------------------------------------------------------- router
let routeToken = 0;
const routes = [
  [/^#\/signin$/, pageSignIn, false],
  [/^#\/meetings$/, pageMeetings, true],
  [/^#\/meetings\/templates$/, pageTemplates, true],
  [/^#\/meetings\/people$/, pagePeople, true],
  [/^#\/meetings\/([\w-]+)$/, pageMeeting, true],
  [/^#\/interview$/, pageInterview, true],
  [/^#\/temperature$/, pageTemperature, true],
  [/^#\/transcribe$/, pageTranscribe, true],
  [/^#\/anc$/, pageAnc, true],
  [/^#\/video$/, pageVideo, true],
  [/^#\/account$/, pageAccount, true],
];
async function route() {
  const hash = location.hash || "#/";
  if (!hash.startsWith("#/")) return; // in-page anchors (the skip link)
  while (cleanups.length) { try { cleanups.pop()(); } catch { /* already gone */ } }
  const token = ++routeToken;
  const main = document.getElementById("main");
  let found = routes.find(([re]) => re.test(hash));
  if (!found) { location.replace(session.access ? "#/temperature" : "#/signin"); return; }
  if (found[2] && !session.access) {
    sessionNext = hash;
    found = routes[0];
  }
  for (const a of document.querySelectorAll("#nav a")) {
    if (hash.startsWith(a.getAttribute("href").replace("/console/", ""))) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  const args = hash.match(found[0]) || [];
  main.replaceChildren();
  try {
    await found[1](main, token, ...args.slice(1));
  } catch (err) {
    if (!pageAlive(token)) return;
    const box = errorBox();
    showError(box, err);
    main.append(box);
  }
  if (pageAlive(token)) {
    const h1 = main.querySelector("h1");
    if (h1) document.title = `${h1.textContent} - Earshot console`;
  }
}
let sessionNext = "#/temperature";
window.addEventListener("hashchange", route);
document.getElementById("skip-link").addEventListener("click", (e) => {
  e.preventDefault();
  document.getElementById("main").focus();
});

// ---------------------------------------------------------------------------------- charts
function chart(canvasParent, config) {
  const canvas = h("canvas", { role: "img", "aria-label": config.label || "chart" });
  canvasParent.replaceChildren(canvas);
  const c = new window.Chart(canvas, { ...config, options: { responsive: true, maintainAspectRatio: false, animation: false, ...(config.options || {}) } });
  cleanups.push(() => c.destroy());
  return c;
}
function gauge(parent, value) {
  const colour = value >= 70 ? "#a01818" : value >= 40 ? "#9a5b00" : "#1e6b34";
  return chart(parent, {
    type: "doughnut",
    label: `Temperature gauge at ${value} of 100`,
    data: { labels: ["temperature", ""], datasets: [{ data: [value, 100 - value], backgroundColor: [colour, "#dde3ea"], borderWidth: 0 }] },
    options: { rotation: -90, circumference: 180, cutout: "70%", plugins: { legend: { display: false }, tooltip: { enabled: false } } },
  });
}
function waveform(container, url, { height = 80, spectrogram = false, regions = false } = {}) {
  const plugins = [];
  let regionPlugin = null;
  if (regions) { regionPlugin = window.WaveSurfer.Regions.create(); plugins.push(regionPlugin); }
  if (spectrogram) plugins.push(window.WaveSurfer.Spectrogram.create({ labels: true, height: 128, splitChannels: false, labelsColor: "#1a1a1a", labelsBackground: "rgba(255,255,255,0.85)" }));
  const ws = window.WaveSurfer.create({ container, url, height, waveColor: "#5b7fb3", progressColor: "#1d3f72", cursorColor: "#c2410c", mediaControls: true, plugins });
  cleanups.push(() => ws.destroy());
  return { ws, regions: regionPlugin };
}

// ---------------------------------------------------------------------------------- sign in
async function pageSignIn(main) {
  const err = errorBox();
  const email = h("input", { type: "email", autocomplete: "username", required: true });
  const password = h("input", { type: "password", autocomplete: "current-password", required: true });
  const rName = h("input", { type: "text", autocomplete: "name", required: true });
  const rEmail = h("input", { type: "email", autocomplete: "email", required: true });
  const rPassword = h("input", { type: "password", autocomplete: "new-password", required: true, minlength: "8" });
  const go = (tokens) => { signedIn(tokens); location.hash = sessionNext && sessionNext !== "#/signin" ? sessionNext : "#/temperature"; };
  const submit = (fn) => async (e) => {
    e.preventDefault();
    err.textContent = "";
    const button = e.target.querySelector("button[type=submit]");
    button.disabled = true;
    try { go(await fn()); } catch (ex) { showError(err, ex); } finally { button.disabled = false; }
  };
  const oauth = (provider) => async () => {
    err.textContent = "";
    try {
      const res = await api(`${MEETINGS}/auth/${provider}/login`);
      location.assign(res.auth_url);
    } catch (ex) { showError(err, ex); }
  };
  main.append(
    h("h1", {}, "Sign in to Earshot"),
    err,
    h("div", { class: "grid" },
      h("form", { class: "panel stack", id: "signin-form", onsubmit: submit(() => api("/api/auth/login", { method: "POST", json: { email: email.value, password: password.value } })) },
        h("h2", {}, "Sign in"), field("Email", email), field("Password", password),
        h("button", { type: "submit" }, "Sign in"),
        h("div", { class: "row" },
          h("button", { type: "button", class: "secondary", onclick: oauth("google") }, "Sign in with Google"),
          h("button", { type: "button", class: "secondary", onclick: oauth("microsoft") }, "Sign in with Microsoft"))),
      h("form", { class: "panel stack", id: "signup-form", onsubmit: submit(() => api("/api/auth/register", { method: "POST", json: { name: rName.value, email: rEmail.value, password: rPassword.value } })) },
        h("h2", {}, "Create an account"), field("Name", rName), field("Email", rEmail),
        field("Password", rPassword, "At least 8 characters, not a common password."),
        h("button", { type: "submit" }, "Create account"))),
  );
}

// ---------------------------------------------------------------------------------- account
async function pageAccount(main, token) {
  const err = errorBox();
  const profile = h("div", { class: "panel" }, "Loading your profile...");
  const platform = h("div", { class: "panel" }, "Loading platform status...");
  main.append(h("h1", {}, "Account"), err, h("h2", {}, "Profile"), profile,
    h("h2", {}, "Platform health (operators)"), platform);
  const signOut = async () => {
    err.textContent = "";
    try {
      await api("/api/auth/logout", { method: "POST", json: { refresh_token: session.refresh } });
      signedOut();
      location.hash = "#/signin";
    } catch (ex) { showError(err, ex); }
  };
  try {
    const me = await api("/api/auth/me");
    if (!pageAlive(token)) return;
    profile.replaceChildren(
      h("dl", {}, h("dt", {}, "Name"), h("dd", { id: "profile-name" }, me.name || ""),
        h("dt", {}, "Email"), h("dd", { id: "profile-email" }, me.email || ""),
        h("dt", {}, "Account id"), h("dd", {}, me.id || "")),
      h("button", { type: "button", id: "sign-out", onclick: signOut }, "Sign out (revokes this session and its refresh token)"));
  } catch (ex) { profile.replaceChildren(); showError(err, ex); }
  try {
    const health = await api("/health");
    let status = null;
    try { status = await api("/api/status"); } catch { /* ANC status is optional */ }
    if (!pageAlive(token)) return;
    const rows = [];
    const flat = (prefix, v) => {
      if (v && typeof v === "object" && !Array.isArray(v)) for (const [k, x] of Object.entries(v)) flat(prefix ? `${prefix}.${k}` : k, x);
      else rows.push(h("tr", {}, h("th", { scope: "row" }, prefix), h("td", {}, Array.isArray(v) ? v.join(", ") : String(v))));
    };
    flat("", health);
    if (status) flat("anc", status);
    platform.replaceChildren(tbl({ id: "health-table", "aria-label": "Health and queue depths" }, h("caption", { class: "visually-hidden" }, "Health and queue depths"), h("tbody", {}, rows)));
  } catch (ex) { platform.replaceChildren(); showError(err, ex); }
}

// ---------------------------------------------------------------------------------- temperature
async function pageTemperature(main) {
  const err = errorBox();
  const { zone, input } = dropZone("Recording", { accept: "audio/*,.flac,.wav,.mp3,.m4a,.ogg", name: "audio" });
  const bar = h("progress", { max: "1", value: "0", "aria-label": "Upload progress", hidden: true });
  const out = h("div", { id: "temperature-result", "aria-live": "polite" });
  const button = h("button", { type: "submit" }, "Measure the temperature");
  const form = h("form", { class: "panel stack", onsubmit: async (e) => {
    e.preventDefault();
    err.textContent = "";
    out.replaceChildren();
    if (!input.files.length) { err.textContent = "Choose a recording first."; return; }
    const data = new FormData();
    data.append("audio", input.files[0]);
    button.disabled = true;
    bar.hidden = false;
    bar.value = 0;
    try {
      const res = await upload("/analyze-audio", data, (p) => { bar.value = p; });
      bar.removeAttribute("value"); // indeterminate while the analysis runs
      const g = h("div", { class: "chart gauge" });
      const drivers = res.drivers || res.factors || res.reasons;
      out.append(
        h("div", { class: "panel" },
          h("p", {}, h("span", { class: "big", id: "temperature-value" }, String(res.temperature)), h("span", { class: "muted" }, " / 100")),
          g,
          h("p", {}, `Confidence ${round(res.confidence * 100, 0)} %`),
          h("h2", {}, "Summary"), h("p", { id: "temperature-summary" }, res.analysis_summary),
          drivers ? [h("h2", {}, "What drove it"), h("ul", {}, (Array.isArray(drivers) ? drivers : Object.entries(drivers).map(([k, v]) => `${k}: ${v}`)).map((d) => h("li", {}, describe(d))))] : null,
          h("p", { class: "muted" }, `Measured ${fmtDate(res.timestamp)}`)));
      gauge(g, res.temperature);
    } catch (ex) { showError(err, ex); } finally { button.disabled = false; bar.hidden = true; }
  } }, zone, bar, button);
  main.append(h("h1", {}, "Conversation temperature"),
    h("p", {}, "Drop a recording of a conversation: Earshot transcribes it and rates how heated it is, from 1 (calm) to 100."),
    err, form, out);
}

// ---------------------------------------------------------------------------------- speech to text
async function pageTranscribe(main) {
  const err = errorBox();
  const { zone, input } = dropZone("Audio file", { accept: "audio/*,video/*,.flac,.wav,.mp3,.m4a,.ogg,.webm", name: "file" });
  const diarize = h("input", { type: "checkbox", id: "diarize" });
  const format = h("select", { id: "format" }, ["srt", "vtt", "txt", "json"].map((f) => h("option", { value: f }, f.toUpperCase())));
  const bar = h("progress", { max: "1", value: "0", "aria-label": "Upload progress", hidden: true });
  const out = h("div", { id: "transcript-result", "aria-live": "polite" });
  const button = h("button", { type: "submit" }, "Transcribe");
  const apiFormat = { txt: "text", srt: "srt", vtt: "vtt", json: "verbose_json" };
  const formData = (file, fmt) => {
    const d = new FormData();
    d.append("file", file);
    d.append("model", "whisper-1");
    d.append("response_format", fmt);
    if (fmt === "verbose_json") { d.append("timestamp_granularities[]", "word"); d.append("timestamp_granularities[]", "segment"); }
    if (diarize.checked) d.append("diarize", "true");
    return d;
  };
  const fetchFormat = async (file, f, verbose) => {
    if (f === "json") return new Blob([JSON.stringify(verbose, null, 2)], { type: "application/json" });
    const text = await api("/v1/audio/transcriptions", { method: "POST", form: formData(file, apiFormat[f]), as: "text" });
    return new Blob([text], { type: "text/plain" });
  };
  const form = h("form", { class: "panel stack", onsubmit: async (e) => {
    e.preventDefault();
    err.textContent = "";
    out.replaceChildren();
    if (!input.files.length) { err.textContent = "Choose an audio file first."; return; }
    const file = input.files[0];
    button.disabled = true;
    bar.hidden = false;
    try {
      const res = await upload("/v1/audio/transcriptions", formData(file, "verbose_json"), (p) => { bar.value = p; });
      const stem = file.name.replace(/\.[^.]+$/, "") || "transcript";
      const raw = res.segments || [];
      // each word goes to the segment it starts in (a segment runs until the next one starts)
      const segments = raw.map((s, i) => ({ ...s, words: (res.words || []).filter((w) => (i === 0 || w.start >= s.start) && (i === raw.length - 1 || w.start < raw[i + 1].start)) }));
      const speakers = [...new Set(segments.map((s) => s.speaker).filter(Boolean))];
      const downloads = h("div", { class: "row" }, ["txt", "srt", "vtt", "json"].map((f) =>
        h("button", { type: "button", class: f === format.value ? "" : "secondary", id: `download-${f}`, onclick: async (ev) => {
          ev.target.disabled = true;
          try { download(`${stem}.${f}`, await fetchFormat(file, f, res)); } catch (ex) { showError(err, ex); } finally { ev.target.disabled = false; }
        } }, `Download ${f.toUpperCase()}`)));
      out.append(h("div", { class: "panel" },
        h("p", {}, `Language ${res.language || "?"}, ${round(res.duration, 1)} s${speakers.length ? `, ${speakers.length} speakers` : ""}.`),
        downloads,
        h("h2", {}, "Transcript"),
        h("div", { class: "transcript", id: "transcript" }, segments.map((s) => h("div", { class: "segment" },
          h("span", { class: "when" }, `${fmtTime(s.start)}-${fmtTime(s.end)}`),
          s.speaker ? h("span", { class: `speaker sp${speakers.indexOf(s.speaker) % 6}` }, `${s.speaker}:`) : null,
          s.words.length ? s.words.map((w) => [h("span", { class: "word", title: `${round(w.start, 2)}-${round(w.end, 2)} s` }, w.word.trim()), " "]) : s.text))),
        h("p", { class: "muted" }, "Hover a word to see its timing.")));
    } catch (ex) { showError(err, ex); } finally { button.disabled = false; bar.hidden = true; }
  } }, zone,
  h("div", { class: "row" }, h("label", { class: "inline", for: "diarize" }, diarize, "Speakers (diarization)"), field("Download format", format)),
  bar, button);
  main.append(h("h1", {}, "Speech to text"), h("p", {}, "Transcribe a recording with word timings and, if you like, who spoke when."), err, form, out);
}

// ---------------------------------------------------------------------------------- ANC
// Attenuation over time (the convergence curve) from the primary microphone and the output:
// 10 log10(P_d / P_e) in 50 ms windows. AudioContext decoding is the browser's.
async function decode(blob, sampleRate = 48000) {
  const ctx = new OfflineAudioContext(1, 1, sampleRate);
  return ctx.decodeAudioData(await blob.arrayBuffer());
}
function convergence(primary, output, rate, windowS = 0.05) {
  const n = Math.floor(rate * windowS);
  const points = [];
  for (let i = 0; i + n <= Math.min(primary.length, output.length); i += n) {
    let pd = 1e-12, pe = 1e-12;
    for (let j = i; j < i + n; j++) { pd += primary[j] * primary[j]; pe += output[j] * output[j]; }
    points.push({ x: +(i / rate).toFixed(2), y: +(10 * Math.log10(pd / pe)).toFixed(2) });
  }
  return points;
}
async function pageAnc(main, token) {
  const err = errorBox();
  const stereo = dropZone("Stereo recording (channel 1 primary microphone, channel 2 reference)", { accept: "audio/*,.wav,.flac", name: "audio" });
  const primary = dropZone("Or: primary microphone", { accept: "audio/*,.wav,.flac", name: "primary" });
  const reference = dropZone("and reference microphone", { accept: "audio/*,.wav,.flac", name: "reference" });
  const algorithm = h("select", {}, ["nlms", "fdaf", "fxnlms", "lms", "ale"].map((a) => h("option", { value: a }, a.toUpperCase())));
  const classify = h("input", { type: "checkbox", checked: true, id: "classify" });
  const bar = h("progress", { max: "1", value: "0", "aria-label": "Progress", hidden: true });
  const out = h("div", { id: "anc-result", "aria-live": "polite" });
  const button = h("button", { type: "submit" }, "Process");
  const history = h("div", { id: "anc-history" });
  const form = h("form", { class: "panel stack", onsubmit: async (e) => {
    e.preventDefault();
    err.textContent = "";
    out.replaceChildren();
    const data = new FormData();
    let before;
    if (stereo.input.files.length) { before = stereo.input.files[0]; data.append("audio", before); }
    else if (primary.input.files.length && reference.input.files.length) {
      before = primary.input.files[0];
      data.append("primary", before);
      data.append("reference", reference.input.files[0]);
    } else { err.textContent = "Choose a stereo recording, or both a primary and a reference recording."; return; }
    data.append("algorithm", algorithm.value);
    data.append("classify", classify.checked ? "true" : "false");
    button.disabled = true;
    bar.hidden = false;
    try {
      let res = await upload("/api/audio/process", data, (p) => { bar.value = p * 0.5; });
      if (res.status === "queued" || res.status === "processing") {
        while (pageAlive(token)) {
          await sleep(1000);
          res = await api(`/api/audio/sessions/${res.session_id}`);
          bar.value = 0.5 + (res.progress || 0) / 200;
          if (res.status === "completed" || res.status === "failed") break;
        }
        if (res.status === "failed") throw new ApiError(0, "Processing failed", describe(res.error));
      }
      if (!pageAlive(token)) return;
      await showAnc(out, res, before);
      loadAncHistory(history, token);
    } catch (ex) { showError(err, ex); } finally { button.disabled = false; bar.hidden = true; }
  } },
  stereo.zone, h("div", { class: "grid" }, primary.zone, reference.zone),
  h("div", { class: "row" }, field("Algorithm", algorithm), h("label", { class: "inline", for: "classify" }, classify, "Classify the noise")),
  bar, button);
  main.append(h("h1", {}, "Noise cancellation"),
    h("p", {}, "Adaptive noise cancellation of a recording made with a primary and a reference microphone."),
    err, form, out, h("h2", {}, "Live session"), liveAnc(token), h("h2", {}, "Your sessions"), history);
  loadAncHistory(history, token);
}
async function showAnc(out, res, beforeFile) {
  const m = res.metrics || {};
  const bands = m.octave_bands_db || m.octave_bands || {};
  const bandChart = h("div", { class: "chart" });
  const curveChart = h("div", { class: "chart" });
  const beforeWave = h("div", { class: "wave", id: "anc-before" });
  const afterWave = h("div", { class: "wave", id: "anc-after" });
  const noise = res.classification || {};
  out.append(h("div", { class: "panel" },
    h("div", { class: "metrics" },
      metric("Attenuation", h("span", { id: "anc-attenuation" }, `${round(m.attenuation_db)} dB`)),
      metric("Steady state", `${round(m.steady_state_attenuation_db)} dB`),
      metric("Convergence", m.convergence_time_ms === null || m.convergence_time_ms === undefined ? "not reached" : `${round(m.convergence_time_ms, 0)} ms`),
      metric("Noise class", h("span", { id: "anc-noise" }, noise.label || noise.noise_type || res.noise_type || "not classified")),
      metric("Real-time factor", round(m.realtime_factor, 1))),
    noise.emergency ? h("p", { class: "notice" }, "Emergency sound detected (siren or alarm).") : null,
    h("h2", {}, "Attenuation per octave band"), bandChart,
    h("h2", {}, "Convergence"), curveChart,
    h("h2", {}, "Before (primary microphone)"), beforeWave,
    h("h2", {}, "After (cancelled)"), afterWave));
  const pairs = (Array.isArray(bands) ? bands.map((b) => [b.center_hz ?? b.centre_hz ?? b.hz, b.attenuation_db ?? b.db]) : Object.entries(bands))
    .map(([hz, db]) => [Number(hz), db]).sort((a, b) => a[0] - b[0]);
  const labels = pairs.map(([hz]) => (hz >= 1000 ? `${hz / 1000} k` : `${hz} `));
  const values = pairs.map(([, db]) => db);
  chart(bandChart, { type: "bar", label: "Attenuation per octave band in decibels",
    data: { labels: labels.map((l) => `${l}Hz`), datasets: [{ label: "attenuation (dB)", data: values, backgroundColor: "#1d3f72" }] },
    options: { scales: { y: { title: { display: true, text: "dB" } } } } });
  const outUrl = res.output?.url || res.output_url;
  const beforeUrl = URL.createObjectURL(beforeFile);
  cleanups.push(() => URL.revokeObjectURL(beforeUrl));
  waveform(beforeWave, beforeUrl, { spectrogram: true });
  if (outUrl) {
    waveform(afterWave, outUrl, { spectrogram: true });
    try {
      const [d, y] = await Promise.all([decode(beforeFile), api(outUrl, { as: "blob" }).then((b) => decode(b))]);
      const points = convergence(d.getChannelData(0), y.getChannelData(0), d.sampleRate);
      chart(curveChart, { type: "line", label: "Attenuation over time in decibels",
        data: { datasets: [{ label: "attenuation (dB), 50 ms windows", data: points, borderColor: "#1d3f72", pointRadius: 0 }] },
        options: { parsing: false, scales: { x: { type: "linear", title: { display: true, text: "seconds" } }, y: { title: { display: true, text: "dB" } } } } });
    } catch (ex) { curveChart.replaceChildren(h("p", { class: "error", role: "alert" }, `The convergence curve could not be drawn: ${ex.message}`)); }
  }
}
async function loadAncHistory(box, token) {
  try {
    const [sessions, summary] = await Promise.all([api("/api/audio/sessions"), api("/api/metrics/summary")]);
    if (!pageAlive(token)) return;
    const list = sessions.sessions || sessions.items || (Array.isArray(sessions) ? sessions : []);
    const sum = Object.entries(summary).filter(([, v]) => typeof v !== "object");
    box.replaceChildren(
      h("div", { class: "metrics" }, sum.filter(([k]) => k !== "timestamp").map(([k, v]) => metric(k.replaceAll("_", " "), Number.isInteger(v) ? String(v) : typeof v === "number" ? round(v, 2) : v === null ? "n/a" : String(v)))),
      tbl({ "aria-label": "Your noise cancellation sessions" }, h("caption", { class: "visually-hidden" }, "Your noise cancellation sessions"),
        h("thead", {}, h("tr", {}, ["Session", "Kind", "Algorithm", "Status", "Created"].map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", {}, list.map((s) => h("tr", {}, h("td", {}, String(s.session_id || s.id).slice(0, 8)), h("td", {}, s.kind || ""), h("td", {}, s.algorithm || ""), h("td", {}, s.status || ""), h("td", {}, fmtDate(s.created_at)))))));
  } catch (ex) {
    box.replaceChildren();
    const e = errorBox();
    showError(e, ex);
    box.append(e);
  }
}
function liveAnc(token) {
  const err = errorBox();
  const { zone, input } = dropZone("Stereo recording to stream in real time", { accept: "audio/*,.wav,.flac", name: "live" });
  const algorithm = h("select", {}, ["fdaf", "nlms", "fxnlms"].map((a) => h("option", { value: a }, a.toUpperCase())));
  const start = h("button", { type: "submit" }, "Start live session");
  const stop = h("button", { type: "button", class: "secondary", disabled: true }, "Stop");
  const status = h("p", { "aria-live": "polite", id: "live-status" });
  const plot = h("div", { class: "chart", hidden: true, id: "live-chart" });
  let socket = null;
  let timer = null;
  const end = () => {
    if (timer) clearInterval(timer);
    timer = null;
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ event: "disconnect" }));
    start.disabled = false;
    stop.disabled = true;
  };
  cleanups.push(() => { end(); if (socket) socket.close(); });
  stop.addEventListener("click", end);
  const form = h("form", { class: "panel stack", onsubmit: async (e) => {
    e.preventDefault();
    err.textContent = "";
    if (!input.files.length) { err.textContent = "Choose a stereo recording first."; return; }
    start.disabled = true;
    try {
      const rate = 48000;
      const audio = await decode(input.files[0], rate).catch(() => { throw new ApiError(0, "Not audio", "the browser could not decode this file"); });
      if (audio.numberOfChannels < 2) throw new ApiError(0, "Stereo needed", "channel 1 is the primary and channel 2 the reference microphone");
      const res = await api("/api/audio/stream", { method: "POST", json: { algorithm: algorithm.value, sample_rate: rate } });
      if (!pageAlive(token)) return;
      const url = new URL(res.websocket_url, location.href);
      url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
      url.host = location.host; // always this gateway
      socket = openSocket(url);
      socket.binaryType = "arraybuffer";
      plot.hidden = false;
      const c = chart(plot, { type: "line", label: "Live attenuation in decibels",
        data: { datasets: [{ label: "attenuation (dB)", data: [], borderColor: "#1d3f72", pointRadius: 0 }] },
        options: { parsing: false, scales: { x: { type: "linear", title: { display: true, text: "seconds" } }, y: { title: { display: true, text: "dB" } } } } });
      const d = audio.getChannelData(0), x = audio.getChannelData(1);
      const block = 1024;
      let pos = 0;
      socket.onmessage = (m) => {
        if (typeof m.data !== "string") return;
        const msg = JSON.parse(m.data);
        if (msg.event === "metrics_update") {
          c.data.datasets[0].data.push({ x: +(pos / rate).toFixed(2), y: msg.recent_attenuation_db ?? msg.attenuation_db });
          c.update("none");
          status.textContent = `Attenuation ${round(msg.attenuation_db)} dB${msg.noise_type ? `, noise: ${msg.noise_type}` : ""}`;
        } else if (msg.event === "error") { err.textContent = `${msg.error}: ${describe(msg.details)}`; }
        else if (msg.event === "disconnect") { status.textContent += " (session ended)"; socket.close(); }
      };
      socket.onerror = () => { err.textContent = "The live session connection failed."; end(); };
      socket.onopen = () => {
        stop.disabled = false;
        status.textContent = "Streaming...";
        timer = setInterval(() => {
          if (pos >= d.length) { end(); return; }
          const n = Math.min(block, d.length - pos);
          const frame = new Float32Array(n * 2);
          for (let i = 0; i < n; i++) { frame[2 * i] = d[pos + i]; frame[2 * i + 1] = x[pos + i]; }
          socket.send(frame.buffer);
          pos += n;
        }, (block / rate) * 1000);
      };
    } catch (ex) { showError(err, ex); start.disabled = false; }
  } }, zone, field("Algorithm", algorithm), h("div", { class: "row" }, start, stop), status, plot);
  return h("div", {}, err, form);
}

// ---------------------------------------------------------------------------------- photo to video
const PHOTO_STEPS = ["queued", "analyzing", "composing", "rendering", "done"];
async function pageVideo(main, token) {
  const err = errorBox();
  const { zone, input } = dropZone("Photo", { accept: "image/*", name: "photo" });
  const bar = h("progress", { max: "100", value: "0", "aria-label": "Progress", hidden: true });
  const steps = h("ol", { class: "steps", "aria-label": "Steps" });
  const out = h("div", { id: "video-result", "aria-live": "polite" });
  const library = h("div", { id: "library" });
  const button = h("button", { type: "submit" }, "Make the music video");
  const showSteps = (status) => {
    const at = PHOTO_STEPS.indexOf(status);
    steps.replaceChildren(...PHOTO_STEPS.map((s, i) => h("li", { class: i < at || status === "done" ? "done" : i === at ? "current" : "", "aria-current": i === at ? "step" : null }, s)));
  };
  const form = h("form", { class: "panel stack", onsubmit: async (e) => {
    e.preventDefault();
    err.textContent = "";
    out.replaceChildren();
    if (!input.files.length) { err.textContent = "Choose a photo first."; return; }
    const data = new FormData();
    data.append("photo", input.files[0]);
    button.disabled = true;
    bar.hidden = false;
    try {
      const task = await upload("/upload-photo", data, (p) => { bar.value = p * 10; });
      let st = { status: "queued", progress: 0 };
      while (pageAlive(token)) {
        showSteps(st.status);
        bar.value = 10 + (st.progress || 0) * 0.9;
        if (st.status === "done") break;
        if (st.status === "failed") throw new ApiError(0, "The video could not be made", st.error || st.error_code);
        await sleep(1000);
        st = await api(`/photos/${task.task_id}/status`);
      }
      if (!pageAlive(token)) return;
      await showVideo(out, task.task_id, token);
      loadLibrary(library, token, out);
    } catch (ex) { showError(err, ex); } finally { button.disabled = false; bar.hidden = true; }
  } }, zone, bar, steps, button);
  main.append(h("h1", {}, "Photo to music video"), h("p", {}, "A photo becomes a 30-second music video with a soundtrack written for it."),
    err, form, out, h("h2", {}, "Library"), library);
  loadLibrary(library, token, out);
}
async function showVideo(out, id, token) {
  const info = await api(`/photos/${id}`);
  const blob = await api(`/photos/${id}/download`, { as: "blob" });
  if (!pageAlive(token)) return;
  const url = URL.createObjectURL(blob);
  cleanups.push(() => URL.revokeObjectURL(url));
  const analysis = info.analysis || {};
  const lyrics = info.lyrics || analysis.lyrics || "";
  out.replaceChildren(h("div", { class: "panel" },
    h("video", { id: "video-player", controls: true, src: url, preload: "metadata", "aria-label": "Music video" }),
    h("p", {}, h("strong", {}, "Mood: "), h("span", { id: "video-mood" }, info.mood || analysis.mood || "unknown")),
    h("h2", {}, "Lyrics"), h("p", { class: "lyrics" }, Array.isArray(lyrics) ? lyrics.join("\n") : String(lyrics)),
    h("button", { type: "button", class: "secondary", onclick: () => download(`earshot-${id}.mp4`, blob) }, "Download the video")));
}
async function loadLibrary(box, token, out) {
  try {
    const res = await api("/photos?limit=24");
    if (!pageAlive(token)) return;
    if (!res.photos.length) { box.replaceChildren(h("p", { class: "muted" }, "No videos yet.")); return; }
    box.replaceChildren(h("ul", { class: "cards", role: "list" }, res.photos.map((p) => h("li", { class: "card" },
      h("h3", {}, p.mood ? `${p.mood}` : p.status),
      h("p", { class: "muted" }, fmtDate(p.created_at)),
      h("p", {}, `Status: ${p.status}${p.duration_s ? `, ${round(p.duration_s, 0)} s` : ""}`),
      p.status === "done" ? h("button", { type: "button", class: "secondary", onclick: () => showVideo(out, p.task_id || p.id, token).catch((ex) => { const e = errorBox(); showError(e, ex); out.replaceChildren(e); }) }, "Play") : null))));
  } catch (ex) { box.replaceChildren(); const e = errorBox(); showError(e, ex); box.append(e); }
}

// ---------------------------------------------------------------------------------- meetings
const SPEAKER_CLASSES = 6;
function meetingTabs(current) {
  return h("nav", { class: "tabs", "aria-label": "Meetings sections" },
    [["#/meetings", "Meetings"], ["#/meetings/templates", "Templates"], ["#/meetings/people", "People"]].map(([href, text]) =>
      h("a", { href, "aria-current": href === current ? "page" : null }, text)));
}
const listOf = (res, ...keys) => { for (const k of keys) if (Array.isArray(res?.[k])) return res[k]; return Array.isArray(res) ? res : []; };
async function pageMeetings(main, token) {
  const err = errorBox();
  const title = h("input", { type: "text", required: true });
  const participants = h("input", { type: "text" });
  const template = h("select", {}, h("option", { value: "" }, "Automatic"));
  const audio = dropZone("Recording", { accept: "audio/*,.wav,.flac,.mp3,.m4a", name: "audio_file" });
  const second = dropZone("Second recording (optional, merged)", { accept: "audio/*,.wav,.flac,.mp3,.m4a", name: "second_audio_file" });
  const bar = h("progress", { max: "1", value: "0", "aria-label": "Upload and processing progress", hidden: true });
  const status = h("p", { id: "meeting-upload-status", "aria-live": "polite" });
  const button = h("button", { type: "submit" }, "Upload meeting");
  const search = h("input", { type: "search", id: "meeting-search" });
  const statusFilter = h("select", {}, ["", "pending", "processing", "completed", "failed"].map((s) => h("option", { value: s }, s || "any")));
  const from = h("input", { type: "date" });
  const to = h("input", { type: "date" });
  const list = h("div", { id: "meeting-list" });
  let page = 1;
  const limit = 10;
  const load = async () => {
    const q = new URLSearchParams({ page, limit });
    if (search.value) q.set("search", search.value);
    if (statusFilter.value) q.set("status", statusFilter.value);
    if (from.value) q.set("date_from", from.value);
    if (to.value) q.set("date_to", to.value);
    try {
      const res = await api(`${MEETINGS}/meetings/?${q}`);
      if (!pageAlive(token)) return;
      const items = listOf(res, "data", "meetings", "items");
      const total = res.total ?? res.total_count ?? items.length;
      list.replaceChildren(
        items.length ? tbl({ "aria-label": "Your meetings" }, h("caption", { class: "visually-hidden" }, "Your meetings"),
          h("thead", {}, h("tr", {}, ["Title", "Status", "Date", "Participants"].map((t) => h("th", { scope: "col" }, t)))),
          h("tbody", {}, items.map((m) => h("tr", {}, h("td", {}, h("a", { href: `#/meetings/${m.id}` }, m.title)),
            h("td", {}, String(m.status || "").toLowerCase()), h("td", {}, fmtDate(m.created_at)), h("td", {}, (m.participants || []).join(", "))))))
          : h("p", { class: "muted" }, "No meetings match."),
        h("div", { class: "row" },
          h("button", { type: "button", class: "secondary", disabled: page <= 1, onclick: () => { page -= 1; load(); } }, "Previous page"),
          h("span", {}, `Page ${page} of ${Math.max(1, Math.ceil(total / limit))}`),
          h("button", { type: "button", class: "secondary", disabled: page * limit >= total, onclick: () => { page += 1; load(); } }, "Next page")));
    } catch (ex) { list.replaceChildren(); const e = errorBox(); showError(e, ex); list.append(e); }
  };
  const form = h("form", { class: "panel stack", id: "meeting-form", onsubmit: async (e) => {
    e.preventDefault();
    err.textContent = "";
    if (!audio.input.files.length) { err.textContent = "Choose a recording first."; return; }
    const data = new FormData();
    data.append("title", title.value);
    const names = participants.value.split(",").map((s) => s.trim()).filter(Boolean);
    if (names.length) data.append("participants", JSON.stringify(names));
    if (template.value) data.append("templateid", template.value);
    data.append("audio_file", audio.input.files[0]);
    if (second.input.files.length) data.append("second_audio_file", second.input.files[0]);
    button.disabled = true;
    bar.hidden = false;
    try {
      status.textContent = "Uploading...";
      const m = await upload(`${MEETINGS}/meetings/`, data, (p) => { bar.value = p * 0.3; });
      const id = m.id || m.meeting_id;
      status.textContent = "Processing...";
      await followMeeting(id, token, m.websocket_url || `${MEETINGS}/meetings/${id}/ws`, (st, progress) => {
        status.textContent = `Processing: ${st}${progress !== null && progress !== undefined ? ` (${round(progress, 0)} %)` : ""}`;
        if (progress !== null && progress !== undefined) bar.value = 0.3 + (progress / 100) * 0.7;
      });
      if (pageAlive(token)) location.hash = `#/meetings/${id}`;
    } catch (ex) { showError(err, ex); status.textContent = ""; } finally { button.disabled = false; bar.hidden = true; }
  } },
  h("h2", {}, "Upload a meeting"), field("Title", title), field("Participants", participants, "Names separated by commas."),
  field("Template", template), audio.zone, second.zone, bar, status, button);
  main.append(h("h1", {}, "Meetings"), meetingTabs("#/meetings"), err, form,
    h("h2", {}, "Your meetings"),
    h("form", { class: "row", role: "search", onsubmit: (e) => { e.preventDefault(); page = 1; load(); } },
      field("Search", search), field("Status", statusFilter), field("From", from), field("To", to),
      h("button", { type: "submit" }, "Filter")),
    list);
  try {
    const res = await api(`${MEETINGS}/templates?limit=100`);
    for (const t of listOf(res, "data", "templates", "items")) template.append(h("option", { value: t.id }, t.title));
  } catch (ex) { showError(err, ex); }
  await load();
}
// Follow a meeting's processing: its WebSocket when it has one, else polling. Resolves when completed.
async function followMeeting(id, token, wsUrl, onProgress) {
  const done = (m) => ["completed", "failed"].includes(String(m.status || "").toLowerCase());
  if (wsUrl) {
    try {
      await new Promise((resolve, reject) => {
        const url = new URL(wsUrl, location.href);
        url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
        url.host = location.host;
        const ws = openSocket(url);
        cleanups.push(() => ws.close());
        ws.onmessage = (e) => {
          const msg = JSON.parse(e.data);
          onProgress(String(msg.stage || msg.status || msg.type).toLowerCase(), msg.percent ?? msg.progress);
          if (done(msg)) { ws.close(); String(msg.status).toLowerCase() === "failed" ? reject(new ApiError(0, "Processing failed", describe(msg.details || msg.error))) : resolve(); }
        };
        ws.onerror = () => reject(new Error("socket"));
        ws.onclose = () => resolve();
      });
    } catch (ex) { if (ex instanceof ApiError) throw ex; }
  }
  while (pageAlive(token)) {
    const m = await api(`${MEETINGS}/meetings/${id}`);
    onProgress(String(m.status).toLowerCase(), m.progress);
    if (String(m.status).toLowerCase() === "failed") throw new ApiError(0, "Processing failed", describe(m.error || "the meeting could not be processed"));
    if (done(m)) return m;
    await sleep(1500);
  }
  return null;
}
async function pageMeeting(main, token, id) {
  const err = errorBox();
  main.append(h("p", {}, h("a", { href: "#/meetings" }, "All meetings")), err);
  const m = await api(`${MEETINGS}/meetings/${id}`);
  if (!pageAlive(token)) return;
  const segs = (m.transcription || m.segments || []).map((s) => ({ ...s, speaker: s.speaker || s.speaker_name || "Speaker" }));
  const speakers = [...new Set(segs.map((s) => s.speaker))];
  const colour = (s) => `speaker sp${Math.max(0, speakers.indexOf(s)) % SPEAKER_CLASSES}`;
  const wave = h("div", { class: "wave", id: "meeting-wave" });
  const transcript = h("div", { class: "transcript", id: "meeting-transcript" });
  const talk = h("div", { class: "chart" });
  const speakerList = h("ul", { id: "speaker-list" });
  let player = null;
  const segButtons = segs.map((s) => h("button", { type: "button", class: "segment", onclick: () => { if (player) { player.setTime(Number(s.start) || 0); player.play(); } } },
    h("span", { class: "when" }, fmtTime(s.start)), h("span", { class: colour(s.speaker) }, `${s.speaker}:`), s.text));
  transcript.append(...segButtons);
  const rename = (old) => {
    const input = h("input", { type: "text", value: old, "aria-label": `New name for ${old}` });
    const li = speakerList.querySelector(`[data-speaker="${CSS.escape(old)}"]`);
    li.replaceChildren(h("form", { class: "row", onsubmit: async (e) => {
      e.preventDefault();
      err.textContent = "";
      try {
        await api(`${MEETINGS}/meetings/${id}/speaker-names`, { method: "PUT", json: { old_speaker_name: old, new_speaker_name: input.value.trim() } });
        route();
      } catch (ex) { showError(err, ex); }
    } }, input, h("button", { type: "submit" }, "Save"), h("button", { type: "button", class: "secondary", onclick: () => route() }, "Cancel")));
    input.focus();
  };
  speakerList.append(...speakers.map((s) => h("li", { "data-speaker": s }, h("span", { class: colour(s) }, s), " ",
    h("button", { type: "button", class: "secondary", onclick: () => rename(s), "aria-label": `Rename ${s}` }, "Rename"))));
  const actions = m.action_items || [];
  const keyPoints = (Array.isArray(m.key_points) ? m.key_points : String(m.key_points || "").split("\n"))
    .map((k) => String(k).replace(/^\s*\d+[.)]\s*/, "").trim()).filter(Boolean);
  const exportAs = async (format) => {
    err.textContent = "";
    try { download(`meeting-${id}.${format}`, await api(`${MEETINGS}/meetings/${id}/export?format=${format}`, { as: "blob" })); }
    catch (ex) { showError(err, ex); }
  };
  main.append(h("h1", {}, m.title),
    h("p", { class: "muted" }, `${String(m.status || "").toLowerCase()} - ${fmtDate(m.created_at)}${m.participants?.length ? ` - ${m.participants.join(", ")}` : ""}`),
    h("div", { class: "row" }, [["md", "Markdown"], ["docx", "Word"], ["srt", "SRT"], ["vtt", "VTT"], ["txt", "Text"], ["json", "JSON"]].map(([f, label]) =>
      h("button", { type: "button", class: "secondary", onclick: () => exportAs(f) }, `Export ${label}`))),
    h("h2", {}, "Recording"), wave,
    h("h2", {}, "Speakers"), speakerList,
    h("h2", {}, "Transcript"), transcript,
    h("h2", {}, "Summary"), h("p", { id: "meeting-summary" }, m.summary || "No summary yet."),
    h("h2", {}, "Key points"), h("ul", {}, keyPoints.map((k) => h("li", {}, describe(k)))),
    h("h2", {}, "Action items"),
    tbl({ id: "action-items", "aria-label": "Action items" }, h("thead", {}, h("tr", {}, ["Task", "Owner", "Due"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, actions.map((a) => h("tr", {}, h("td", {}, a.task || a.text || a.description || describe(a)), h("td", {}, a.assigned_to || a.owner || a.assignee || ""), h("td", {}, a.due_date || a.due || ""))))),
    h("h2", {}, "Talk time"), talk);
  const seconds = speakers.map((s) => segs.filter((x) => x.speaker === s).reduce((t, x) => t + Math.max(0, (x.end || 0) - (x.start || 0)), 0));
  chart(talk, { type: "bar", label: "Talk time per speaker in seconds",
    data: { labels: speakers, datasets: [{ label: "seconds", data: seconds, backgroundColor: ["#0b4f9c", "#a01818", "#1e6b34", "#6d28d9", "#9a3412", "#0f5e63"] }] },
    options: { indexAxis: "y", plugins: { legend: { display: false } } } });
  try {
    const blob = await api(`${MEETINGS}/meetings/${id}/audio`, { as: "blob" });
    if (!pageAlive(token)) return;
    const url = URL.createObjectURL(blob);
    cleanups.push(() => URL.revokeObjectURL(url));
    player = waveform(wave, url).ws;
    player.on("timeupdate", (t) => {
      segs.forEach((s, i) => segButtons[i].classList.toggle("active", t >= s.start && t < s.end));
    });
  } catch (ex) { wave.replaceChildren(h("p", { class: "error", role: "alert" }, `The recording cannot be played: ${ex.message}`)); }
}
async function pageTemplates(main, token) {
  const err = errorBox();
  const list = h("div", { id: "template-list" });
  const titleIn = h("input", { type: "text", required: true });
  const desc = h("textarea", { rows: "2" });
  const points = h("textarea", { rows: "3" });
  let editing = null;
  const heading = h("h2", {}, "New template");
  const load = async () => {
    try {
      const [defaults, mine] = await Promise.all([api(`${MEETINGS}/templates/defaults`), api(`${MEETINGS}/templates/user`)]);
      if (!pageAlive(token)) return;
      const card = (t, own) => h("li", { class: "card" }, h("h3", {}, t.title), h("p", {}, t.description || ""),
        h("ul", {}, (t.key_points_prompt || []).map((p) => h("li", {}, p))),
        own ? h("button", { type: "button", class: "secondary", onclick: () => { editing = t.id; heading.textContent = `Edit ${t.title}`; titleIn.value = t.title; desc.value = t.description || ""; points.value = (t.key_points_prompt || []).join("\n"); titleIn.focus(); } }, `Edit ${t.title}`) : null);
      list.replaceChildren(h("h2", {}, "Default templates"), h("ul", { class: "cards" }, listOf(defaults, "data", "templates", "items").map((t) => card(t, false))),
        h("h2", {}, "Your templates"), h("ul", { class: "cards" }, listOf(mine, "data", "templates", "items").map((t) => card(t, true))));
    } catch (ex) { showError(err, ex); }
  };
  main.append(h("h1", {}, "Meeting templates"), meetingTabs("#/meetings/templates"), err,
    h("form", { class: "panel stack", onsubmit: async (e) => {
      e.preventDefault();
      err.textContent = "";
      const body = { title: titleIn.value, description: desc.value, key_points_prompt: points.value.split("\n").map((s) => s.trim()).filter(Boolean) };
      try {
        await api(editing ? `${MEETINGS}/templates/${editing}` : `${MEETINGS}/templates`, { method: editing ? "PUT" : "POST", json: body });
        editing = null; heading.textContent = "New template"; titleIn.value = desc.value = points.value = "";
        load();
      } catch (ex) { showError(err, ex); }
    } }, heading, field("Title", titleIn), field("Description", desc), field("Key points to extract", points, "One per line."), h("button", { type: "submit" }, "Save template")),
    list);
  await load();
}
async function pagePeople(main, token) {
  const err = errorBox();
  const list = h("div", { id: "people-list" });
  const first = h("input", { type: "text", required: true });
  const last = h("input", { type: "text", required: true });
  const email = h("input", { type: "email" });
  const company = h("input", { type: "text" });
  const detail = h("div", { "aria-live": "polite" });
  const load = async () => {
    try {
      const res = await api(`${CRM}/speaker-profiles?limit=100`);
      if (!pageAlive(token)) return;
      list.replaceChildren(h("ul", { class: "cards" }, listOf(res, "data", "profiles", "items").map((p) => {
        const name = p.full_name || `${p.first_name} ${p.last_name}`;
        const speaker = h("input", { type: "text" });
        return h("li", { class: "card" }, h("h3", {}, name), h("p", {}, [p.designation, p.company, p.email].filter(Boolean).join(", ")),
          p.speaker_names?.length ? h("p", { class: "muted" }, `Known as: ${p.speaker_names.join(", ")}`) : null,
          h("button", { type: "button", class: "secondary", onclick: async () => {
            try {
              const r = await api(`${CRM}/speakers/${encodeURIComponent(name)}/meetings?limit=20`);
              detail.replaceChildren(h("h2", {}, `Meetings with ${name}`), h("ul", {}, listOf(r, "data", "meetings", "items").map((mm) => h("li", {}, h("a", { href: `#/meetings/${mm.id}` }, mm.title)))));
            } catch (ex) { showError(err, ex); }
          } }, `Meetings of ${name}`),
          h("form", { class: "stack", onsubmit: async (e) => {
            e.preventDefault();
            try { await api(`${CRM}/speaker-profiles/${p.id}/map`, { method: "POST", json: { speaker_name: speaker.value.trim() } }); load(); }
            catch (ex) { showError(err, ex); }
          } }, field("Speaker name in your meetings", speaker), h("button", { type: "submit" }, "Map speaker to profile")));
      })));
    } catch (ex) { showError(err, ex); }
  };
  main.append(h("h1", {}, "People"), meetingTabs("#/meetings/people"), err,
    h("form", { class: "panel stack", onsubmit: async (e) => {
      e.preventDefault();
      try {
        await api(`${CRM}/speaker-profiles`, { method: "POST", json: { first_name: first.value, last_name: last.value, email: email.value || null, company: company.value || null } });
        first.value = last.value = email.value = company.value = "";
        load();
      } catch (ex) { showError(err, ex); }
    } }, h("h2", {}, "New profile"), h("div", { class: "row" }, field("First name", first), field("Last name", last), field("Email", email), field("Company", company)), h("button", { type: "submit" }, "Create profile")),
    list, detail);
  await load();
}

// ---------------------------------------------------------------------------------- interview practice
const IDEAL_WPM = [120, 160];
// Words per minute over time: the API's windows when it gives them, else 10 s windows of the words.
function paceSeries(words, windows) {
  if (windows?.length) return windows.map((w) => ({ x: +(((w.start + w.end) / 2).toFixed(1)), y: Math.round(w.wpm) }));
  if (!words.length) return [];
  const end = words[words.length - 1].end;
  const pts = [];
  for (let t = 0; t <= end; t += 5) {
    const n = words.filter((w) => w.start >= t && w.start < t + 10).length;
    pts.push({ x: +(t + 5).toFixed(1), y: Math.round(n * 6) });
  }
  return pts;
}
async function pageInterview(main, token) {
  const err = errorBox();
  const resume = dropZone("Resume (PDF, Word or text)", { accept: ".pdf,.docx,.txt,application/pdf,text/plain", name: "resume" });
  const skills = h("div", { id: "skills", "aria-live": "polite" });
  const track = h("select", { id: "track" });
  const stage = h("div", { id: "interview-stage", "aria-live": "polite" });
  const progress = h("div", { id: "interview-progress" });
  const showSkills = (r) => skills.replaceChildren(h("h3", {}, "Skills found"),
    h("ul", { id: "skill-list" }, (r.skills || []).map((x) => h("li", {}, describe(x)))),
    r.years_experience !== undefined && r.years_experience !== null ? h("p", {}, `Years of experience: ${r.years_experience}`) : null);
  main.append(h("h1", {}, "Interview practice"), err,
    h("div", { class: "grid" },
      h("form", { class: "panel stack", id: "resume-form", onsubmit: async (e) => {
        e.preventDefault();
        err.textContent = "";
        if (!resume.input.files.length) { err.textContent = "Choose your resume first."; return; }
        const d = new FormData();
        d.append("file", resume.input.files[0]);
        try { showSkills(await upload("/api/extract-resume", d)); } catch (ex) { showError(err, ex); }
      } }, h("h2", {}, "Your resume"), resume.zone, h("button", { type: "submit" }, "Read my resume"), skills),
      h("form", { class: "panel stack", id: "interview-form", onsubmit: async (e) => {
        e.preventDefault();
        err.textContent = "";
        const button = e.target.querySelector("button[type=submit]");
        button.disabled = true;
        try {
          const iv = await api("/api/interviews/create", { method: "POST", json: { track: track.value } });
          const interviewId = iv.interviewId ?? iv.interview_id ?? iv.id;
          const q = await api("/api/interviews/generate-questions", { method: "POST", json: { interviewId } });
          let questions = listOf(q, "items", "questions");
          if (!questions.length) questions = listOf(await api(`/api/interviews/${interviewId}/question-attempts`), "items");
          runInterview(stage, token, interviewId, questions, err, progress);
          loadInterviews(progress, token, err);
        } catch (ex) { showError(err, ex); } finally { button.disabled = false; }
      } }, h("h2", {}, "Start an interview"), field("Track", track), h("button", { type: "submit" }, "Start"))),
    stage, h("h2", {}, "Progress across interviews"), progress);
  try {
    const t = await api("/api/interviews/tracks");
    for (const x of listOf(t, "tracks")) track.append(h("option", { value: x.id }, x.title));
  } catch (ex) { showError(err, ex); }
  loadInterviews(progress, token, err);
}
async function loadInterviews(box, token, err) {
  try {
    const [res, prog] = await Promise.all([api("/api/interviews?limit=20"), api("/api/progress")]);
    if (!pageAlive(token)) return;
    const items = listOf(res, "items", "interviews");
    const points = listOf(prog, "interviews").filter((p) => p.overall_score !== null && p.overall_score !== undefined);
    const plot = h("div", { class: "chart", id: "progress-chart" });
    box.replaceChildren(
      points.length ? plot : h("p", { class: "muted" }, "Finish an interview to see your scores over time."),
      items.length ? tbl({ "aria-label": "Your interviews" }, h("thead", {}, h("tr", {}, ["Interview", "Track", "Status", "Questions", "Date"].map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", {}, items.map((i) => h("tr", {}, h("td", {}, String(i.interviewId ?? i.interview_id ?? i.id)), h("td", {}, i.track || ""), h("td", {}, i.status || ""), h("td", {}, String(i.question_count ?? "")), h("td", {}, fmtDate(i.created_at))))))
        : h("p", { class: "muted" }, "No interviews yet."));
    if (points.length) {
      chart(plot, { type: "line", label: "Overall interview score over time",
        data: { labels: points.map((p, i) => `#${i + 1} ${p.track}`), datasets: [{ label: "overall score", data: points.map((p) => p.overall_score), borderColor: "#1d3f72" }] },
        options: { scales: { y: { min: 0, max: 100 } } } });
    }
  } catch (ex) { showError(err, ex); }
}
function runInterview(stage, token, interviewId, questions, err, progress) {
  let index = 0;
  const show = () => {
    const q = questions[index];
    if (!q) { finish(); return; }
    const attemptId = q.question_attempt_id ?? q.questionAttemptId ?? q.id;
    const { zone, input } = dropZone("Or upload a recorded answer", { accept: "audio/*,.wav,.webm,.m4a,.mp3,.flac", name: "answer" });
    const rec = h("button", { type: "button", id: "record" }, "Record with the microphone");
    const result = h("div", { "aria-live": "polite", id: "answer-result" });
    let recorder = null;
    rec.addEventListener("click", async () => {
      if (recorder) { recorder.stop(); return; }
      try {
        const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
        const chunks = [];
        const r = new MediaRecorder(stream);
        recorder = r;
        r.ondataavailable = (e) => chunks.push(e.data);
        r.onstop = () => {
          stream.getTracks().forEach((t) => t.stop());
          recorder = null;
          rec.textContent = "Record with the microphone";
          answer(new Blob(chunks, { type: r.mimeType || "audio/webm" }), "answer.webm");
        };
        r.start();
        rec.textContent = "Stop recording";
      } catch (ex) { err.textContent = `The microphone cannot be used: ${ex.message}`; }
    });
    const answer = async (blob, name) => {
      err.textContent = "";
      result.replaceChildren(h("p", {}, "Transcribing and analysing..."), h("progress", { "aria-label": "Analysing" }));
      try {
        const d = new FormData();
        d.append("file", blob, name);
        d.append("question_attempt_id", String(attemptId));
        const t = await upload("/api/transcribe-whisper", d);
        const analysis = await api("/api/complete-analysis", { method: "POST", json: { question_attempt_id: attemptId, analysis_types: ["domain", "communication", "pace", "pause"] } });
        showAnswer(result, blob, t, analysis);
      } catch (ex) { result.replaceChildren(); showError(err, ex); }
    };
    stage.replaceChildren(h("div", { class: "panel stack" },
      h("h2", {}, `Question ${index + 1} of ${questions.length}`),
      h("p", { id: "question-text" }, q.text || q.question || q.question_text || describe(q)),
      h("div", { class: "row" }, rec), zone,
      h("button", { type: "button", id: "send-answer", onclick: () => { if (input.files.length) answer(input.files[0], input.files[0].name); else err.textContent = "Choose an answer file first."; } }, "Send this answer"),
      result,
      h("div", { class: "row" }, h("button", { type: "button", class: "secondary", id: "next-question", onclick: () => { index += 1; show(); } }, index + 1 < questions.length ? "Next question" : "Finish the interview"),
        index + 1 < questions.length ? h("button", { type: "button", class: "secondary", id: "finish-now", onclick: () => finish() }, "Finish now") : null)));
  };
  const finish = async () => {
    err.textContent = "";
    try {
      await api("/api/interviews/complete", { method: "POST", json: { interviewId } });
      const out = await api("/api/final-report", { method: "POST", json: { interviewId } });
      const r = out.report || out;
      const list = (title, xs) => (xs?.length ? [h("h3", {}, title), h("ul", {}, xs.map((x) => h("li", {}, describe(x.title || x.text || x))))] : null);
      stage.replaceChildren(h("div", { class: "panel", id: "final-report" }, h("h2", {}, "Final report"),
        h("p", {}, h("span", { class: "big", id: "overall-score" }, r.overall_score ?? "n/a"), h("span", { class: "muted" }, " / 100 overall")),
        h("p", {}, describe(r.summary || "")),
        h("div", { class: "cards" }, Object.entries(r.dimension_scores || {}).map(([k, v]) => h("div", { class: "card" }, h("h3", {}, k.replaceAll("_", " ")), h("p", { class: "big" }, String(v))))),
        list("Strengths", r.strengths), list("To improve", r.improvements), list("Practice next", r.recommended_practice),
        h("button", { type: "button", class: "secondary", onclick: async () => {
          try { download(`interview-${interviewId}-report.pdf`, await api(`/api/final-report/${interviewId}?format=pdf`, { as: "blob" })); } catch (ex) { showError(err, ex); }
        } }, "Download the report (PDF)")));
      loadInterviews(progress, token, err);
    } catch (ex) { showError(err, ex); }
  };
  show();
}
function showAnswer(box, blob, t, analysis) {
  const paceBox = h("div", { class: "chart", id: "pace-chart" });
  const wave = h("div", { class: "wave", id: "answer-wave" });
  const words = t.words || [];
  const card = (k, title, lines) => h("div", { class: "card", id: `card-${k}` }, h("h3", {}, title), ...lines.filter(Boolean).map((l) => h("p", {}, l)));
  const a = analysis;
  const failed = (k) => (a.status?.[k]?.status === "failed" ? `Not available: ${a.status[k].details || a.status[k].error}` : null);
  box.replaceChildren(h("h3", {}, "Your answer"), h("p", { id: "answer-text" }, t.text || ""), wave,
    h("h3", {}, "Pace over time"), paceBox,
    h("div", { class: "cards" },
      card("domain", "Domain knowledge", a.domain ? [`Score ${a.domain.score}/100`, a.domain.feedback, a.domain.missing_concepts?.length ? `Missing: ${a.domain.missing_concepts.join(", ")}` : null] : [failed("domain")]),
      card("communication", "Communication", a.communication ? [`Score ${a.communication.score}/100`, `Clarity ${a.communication.clarity}, structure ${a.communication.structure}, vocabulary ${a.communication.vocabulary}`, `Filler words: ${a.communication.filler_words}`] : [failed("communication")]),
      card("pace", "Pace", a.pace ? [`Score ${a.pace.score}/100`, `${round(a.pace.wpm, 0)} words per minute (${a.pace.band})`, a.pace.feedback] : [failed("pace")]),
      card("pause", "Pauses", a.pause ? [`Score ${a.pause.score}/100`, `${a.pause.pause_count} pauses, longest ${round(a.pause.max_pause_s, 1)} s`, `Speaking ${round(a.pause.speaking_ratio * 100, 0)} % of the time`] : [failed("pause")])));
  const pts = paceSeries(words, a.pace?.over_time);
  const band = (y) => pts.map((p) => ({ x: p.x, y }));
  chart(paceBox, { type: "line", label: "Speaking pace over time in words per minute, with the ideal band shaded",
    data: { datasets: [
      { label: "ideal (low)", data: band(IDEAL_WPM[0]), borderWidth: 0, pointRadius: 0, fill: false },
      { label: "ideal band", data: band(IDEAL_WPM[1]), borderWidth: 0, pointRadius: 0, fill: "-1", backgroundColor: "rgba(30,107,52,0.18)" },
      { label: "your pace (wpm)", data: pts, borderColor: "#1d3f72", pointRadius: 2 }] },
    options: { parsing: false, scales: { x: { type: "linear", title: { display: true, text: "seconds" } }, y: { title: { display: true, text: "words per minute" } } } } });
  const url = URL.createObjectURL(blob);
  cleanups.push(() => URL.revokeObjectURL(url));
  const { ws, regions } = waveform(wave, url, { regions: true });
  const pauses = a.pause?.pauses?.length ? a.pause.pauses
    : words.slice(1).map((w, i) => ({ start: words[i].end, end: w.start })).filter((p) => p.end - p.start >= 1.0);
  ws.on("decode", () => {
    for (const p of pauses) regions.addRegion({ start: p.start, end: p.end, color: "rgba(160,24,24,0.25)", drag: false, resize: false });
    wave.dataset.pauses = String(pauses.length);
  });
}

// ---------------------------------------------------------------------------------- start
// Back from Google or Microsoft: the gateway served this page at the API's web callback URL;
// the same URL asked for JSON completes the sign-in (code and state are single use).
async function finishOAuth(provider) {
  const main = document.getElementById("main");
  main.replaceChildren(h("h1", {}, `Signing in with ${provider}`), h("p", { "aria-live": "polite" }, "One moment..."));
  try {
    const res = await fetch(location.pathname + location.search, { headers: { Accept: "application/json" } });
    if (!res.ok) throw await toError(res);
    signedIn(await res.json());
    history.replaceState(null, "", "/console/#/temperature");
  } catch (ex) {
    history.replaceState(null, "", "/console/#/signin");
    await route();
    const box = document.querySelector("main .error");
    if (box) showError(box, ex);
    return;
  }
  route();
}
renderWho();
const oauthReturn = location.pathname.match(/^\/api\/v1\/web\/auth\/(google|microsoft)\/callback$/);
if (oauthReturn) finishOAuth(oauthReturn[1]);
else route();
