// cssim demo page. Shows what the server's library computed; computes nothing
// itself. Polls /api/version and re-renders from /api/state when it changed,
// so every browser on the server shows the same state.
"use strict";

const $ = (id) => document.getElementById(id);

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else if (k === "style") Object.assign(e.style, v); // CSSOM: allowed by the CSP, unlike a style attribute
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const c of children) {
    if (c === null || c === undefined) continue;
    e.append(typeof c === "string" ? document.createTextNode(c) : c);
  }
  return e;
}

async function api(method, path, body, headers) {
  const opts = { method, headers: headers || {} };
  if (body !== undefined) {
    if (body instanceof Blob) {
      opts.body = body;
    } else {
      opts.body = JSON.stringify(body);
      opts.headers["Content-Type"] = "application/json";
    }
  }
  const r = await fetch(path, opts);
  let data = null;
  try { data = await r.json(); } catch (e) { data = null; }
  if (!r.ok) {
    const msg = data && data.error ? data.error : `request failed (${r.status} ${r.statusText})`;
    throw new Error(msg);
  }
  return data;
}

let version = 0;
let state = null;
let openReport = null;
let busy = false;

function time(unix) {
  if (!unix) return "";
  return new Date(unix * 1000).toLocaleTimeString([], { hour12: false });
}

function kb(n) { return n >= 10240 ? `${Math.round(n / 1024)} KB` : `${n} bytes`; }

// ---- Alice ---------------------------------------------------------------

// The sliders, written in the edit grammar (`cssim edit`, `cssim eval`):
// the chain field shows it and can be edited by hand; the server parses it.
function chainFromControls() {
  const crop = +$("crop").value, resize = +$("resize").value, jpeg = +$("jpeg").value;
  const b = +$("brightness").value, rotate = +$("rotate").value;
  const parts = [];
  if (crop < 100) parts.push(`crop:${crop / 100}`);
  if (resize < 100) parts.push(`resize:${resize / 100}`);
  if (rotate) parts.push(`rotate:${rotate}`);
  if ($("mirror").checked) parts.push("flip:h");
  if (b) parts.push(`brightness:${b > 0 ? "+" : ""}${b}`);
  if (jpeg <= 100) parts.push(`jpeg:${jpeg}`);
  return parts.length ? parts.join("+") : "none";
}

function showOutputs() {
  const crop = +$("crop").value, resize = +$("resize").value, jpeg = +$("jpeg").value;
  $("crop-out").textContent = crop < 100 ? `${crop}%` : "off";
  $("resize-out").textContent = resize < 100 ? `${resize}%` : "off";
  $("jpeg-out").textContent = jpeg <= 100 ? `q${jpeg}` : "off";
  $("brightness-out").textContent = $("brightness").value;
  $("edits").value = chainFromControls();
}

// A matched part in words, as the CLI's `Part` Display writes it.
function partText(p) {
  if (p.kind === "text") return "text";
  if (p.kind === "url") return `url ${p.url}`;
  if (p.kind === "attachment") return `attachment #${p.index + 1} ${p.name}`;
  return JSON.stringify(p);
}

function verdictOf(sent) { return sent.outcome.verdict.action.toLowerCase(); }

function distanceBar(n) {
  const scale = 128;
  const w = Math.min(100, (n.distance / scale) * 100);
  const t = Math.min(100, (n.threshold / scale) * 100);
  const within = n.distance <= n.threshold;
  return el("div", {},
    el("div", { class: "bar", role: "img",
      "aria-label": `distance ${n.distance} of threshold ${n.threshold}` },
      el("div", { class: "fill" + (within ? " within" : ""), style: { width: `${w}%` } }),
      el("div", { class: "mark", style: { left: `${t}%` } })),
    el("div", { id: "distance", "data-distance": String(n.distance) },
      `PDQ distance to nearest list entry: ${n.distance} bits `,
      el("b", { text: within ? "≤" : ">" }),
      ` threshold ${n.threshold}`,
      n.dihedral_distance !== n.distance
        ? el("span", { class: "small", text: ` (best of 8 orientations: ${n.dihedral_distance})` })
        : null));
}

function renderResult(sent, ms) {
  const box = $("result");
  box.replaceChildren();
  if (!sent) return;
  const v = sent.outcome.verdict;
  const action = verdictOf(sent);
  const card = el("div", { id: "last", "data-number": String(sent.number), "data-action": action });
  if (ms !== undefined) card.setAttribute("data-ms", ms.toFixed(1));
  card.append(el("div", { id: "verdict", class: "verdict " + action },
    `${action.toUpperCase()}`,
    el("span", { class: "small", text: `  message ${sent.number}: ${v.matches.length} match(es), scan ${(v.timings.reduce((a, t) => a + t.micros, 0) / 1000).toFixed(2)} ms` })));
  if (sent.image) {
    const im = sent.image;
    if (im.preview) card.append(el("img", { src: im.preview, alt: `image sent: ${im.name}` }));
    card.append(el("div", { class: "small",
      text: `${im.name} — ${im.width}×${im.height}, ${kb(im.bytes)}; edits: ${im.edits}` }));
    if (im.nearest) card.append(distanceBar(im.nearest));
  }
  for (const m of v.matches) {
    card.append(el("div", { class: "small", text: `match: ${partText(m.part)} via ${m.algorithm} at distance ${m.hit.distance}` + (m.orientation ? ` (turned ${m.orientation})` : "") }));
  }
  for (const u of v.unscannable) card.append(el("div", { class: "small", text: `unscannable: ${JSON.stringify(u)}` }));
  const steps = v.timings.map((t) => `${t.step} ${(t.micros / 1000).toFixed(2)} ms`).join(" · ");
  if (steps) card.append(el("div", { class: "small", text: `steps: ${steps}` }));
  const o = sent.outcome;
  let line;
  if (o.report) {
    line = o.report.released_now > 0
      ? `report sealed (${o.report.sealed_size} bytes) and released to the relay`
      : `report sealed and held until the account reaches ${o.report.account_threshold} matches (${o.report.account_matches} so far)`;
    card.append(el("div", { class: "small", text: line }));
  }
  card.append(el("div", { class: "small", text: o.sent
    ? `sent: ${o.plaintext_size} bytes → ${o.envelope_size}-byte envelope; server total ${sent.server_ms.toFixed(1)} ms`
    : "not sent: the policy blocks messages that match" }));
  if (sent.stages) {
    card.append(el("div", { class: "small", text: "server: " + sent.stages.map(([n, t]) => `${n} ${t.toFixed(1)} ms`).join(" · ") }));
  }
  box.append(card);
}

function renderAlice(s) {
  const select = $("image");
  if (select.options.length <= 1) {
    for (const name of s.examples) {
      const listed = s.listed.includes(name);
      select.append(el("option", { value: `example:${name}`, text: name + (listed ? " (listed)" : "") }));
    }
  }
  let up = select.querySelector('option[value="upload"]');
  if (s.upload) {
    const label = `upload: ${s.upload.name} (${s.upload.width}×${s.upload.height})`;
    if (!up) { up = el("option", { value: "upload" }); select.append(up); }
    up.textContent = label;
  } else if (up) {
    up.remove();
  }
  const last = s.alice[s.alice.length - 1];
  const shown = $("last");
  if (!last) renderResult(null);
  else if (!shown || shown.dataset.number !== String(last.number)) renderResult(last);
  const hist = $("history");
  hist.replaceChildren();
  for (const sent of s.alice.slice(0, -1).reverse()) {
    const what = [sent.text ? `“${sent.text}”` : null, sent.image ? `${sent.image.name} (${sent.image.edits})` : null].filter(Boolean).join(" + ");
    hist.append(el("li", { value: String(sent.number), text: `${what} → ${verdictOf(sent)}` }));
  }
}

// ---- relay, moderator, Bob -------------------------------------------------

function renderRelay(s) {
  const ul = $("relay-messages");
  ul.replaceChildren();
  if (s.relay.messages.length === 0) ul.append(el("li", { class: "small", text: "no messages" }));
  for (const m of s.relay.messages.slice().reverse()) {
    ul.append(el("li", { class: "relay-message" },
      el("div", { text: `${m.from} → ${m.to}, ${time(m.sent_at)}, ${m.size} bytes, ${m.delivered ? "delivered" : "waiting"}` }),
      el("div", { class: "mono cipher", text: m.head.slice(0, 48) + "…" })));
  }
  const rl = $("relay-reports");
  rl.replaceChildren();
  if (s.relay.reports.length === 0) rl.append(el("li", { class: "small", text: "none" }));
  for (const r of s.relay.reports) {
    rl.append(el("li", { class: "relay-report" },
      el("span", { class: "mono", text: r.id.slice(0, 12) + "… " }),
      `${r.size} bytes sealed `, el("span", { class: "tag " + r.status, text: r.status })));
  }
}

function renderQueue(s) {
  const ul = $("queue");
  ul.replaceChildren();
  if (s.queue.length === 0) ul.append(el("li", { class: "small", text: "no reports" }));
  for (const r of s.queue) {
    const opened = r.account !== undefined;
    ul.append(el("li", { class: "queue-row" },
      el("div", {},
        el("span", { class: "tag " + r.status, text: r.status }), " ",
        opened ? `account ${r.account}, ${r.matches} match(es), ${r.verified ? "verified" : "NOT VERIFIED"}` : `cannot open: ${r.error}`),
      opened ? el("button", { type: "button", class: "open-report", "data-id": r.id,
        onclick: () => showReport(r.id) }, "Open report") : null));
  }
  if (openReport && !s.queue.some((r) => r.id === openReport)) { openReport = null; $("report").replaceChildren(); }
}

async function showReport(id) {
  openReport = id;
  const box = $("report");
  try {
    const d = await api("GET", `/api/reports/${id}`);
    box.replaceChildren(
      el("h3", { text: `report ${id.slice(0, 12)}… (${d.status})` }),
      el("div", { class: "small", text: d.verification && d.verification.verified
        ? `verified: signed by ${d.report.account}'s device, relay receipt and commitment check out`
        : `NOT VERIFIED: ${(d.verification && d.verification.problems.join("; ")) || "unchecked"}` }),
      el("div", { text: `${d.report.account} → ${d.report.recipient}, policy ${d.report.policy}` }));
    for (const m of d.report.matches) {
      box.append(el("div", { class: "small", text: `${partText(m.part)} matched '${m.hit.label || "entry"}' via ${m.algorithm} at distance ${m.hit.distance}` }));
    }
    for (const e of d.evidence) {
      box.append(el("div", { class: "evidence" },
        el("div", { text: `evidence: ${e.part} (${e.size} bytes)` }),
        e.text ? el("div", { class: "mono", text: e.text }) : null,
        e.preview ? el("img", { src: e.preview, alt: `evidence ${e.part}` }) : null));
    }
    box.append(el("div", { class: "row" },
      el("button", { type: "button", id: "confirm", onclick: () => resolve(id, "confirmed") }, "Confirmed"),
      el("button", { type: "button", id: "false-positive", onclick: () => resolve(id, "false-positive") }, "False positive")));
  } catch (e) {
    box.replaceChildren(el("div", { class: "error", text: e.message }));
  }
}

async function resolve(id, outcome) {
  try {
    await api("POST", `/api/reports/${id}/resolve`, { outcome });
    await refresh(true);
    await showReport(id);
  } catch (e) {
    $("report").append(el("div", { class: "error", text: e.message }));
  }
}

function renderBob(s) {
  const ul = $("inbox");
  ul.replaceChildren();
  if (s.bob.length === 0) ul.append(el("li", { class: "small", text: "no messages yet" }));
  for (const m of s.bob.slice().reverse()) {
    if (m.error) { ul.append(el("li", { class: "error", text: `message ${m.id}: ${m.error}` })); continue; }
    const li = el("li", { class: "bob-message" },
      el("div", { class: "small", text: `from ${m.from}, ${time(m.sent_at)}` }),
      m.text ? el("div", { class: "bob-text", text: m.text }) : null);
    for (const p of m.previews) li.append(el("img", { src: p, alt: "image from " + m.from }));
    for (const a of m.attachments) li.append(el("div", { class: "small", text: a }));
    ul.append(li);
  }
}

function renderControls(c) {
  // Leave a field alone while someone is typing in it.
  const set = (id, prop, v) => { const e = $(id); if (document.activeElement !== e) e[prop] = v; };
  set("threshold", "value", c.threshold);
  set("on-match", "value", c.on_match);
  set("account-threshold", "value", c.account_threshold);
  set("dihedral", "checked", c.pdq_dihedral);
}

function renderCaption(g) {
  const box = $("caption");
  for (const p of ["alice", "relay", "moderator", "bob"]) $(p).classList.toggle("focus", !!g && g.panel === p);
  if (!g) { box.hidden = true; document.body.classList.remove("captioned"); return; }
  box.hidden = false;
  document.body.classList.add("captioned");
  $("caption-title").textContent = `Step ${g.step} of ${g.of}: ${g.title}`;
  $("caption-lines").replaceChildren(...g.lines.map((l) => el("div", { text: l })));
  $("guided").textContent = g.step >= g.of ? "Guided: again ▶" : "Guided: next ▶";
}

function render(s) {
  state = s;
  version = s.version;
  renderControls(s.controls);
  renderAlice(s);
  renderRelay(s);
  renderQueue(s);
  renderBob(s);
  renderCaption(s.guide);
  document.body.dataset.version = String(s.version);
}

async function refresh(force) {
  try {
    const v = await api("GET", "/api/version");
    if (force || v.version !== version) render(await api("GET", "/api/state"));
  } catch (e) {
    $("alice-error").textContent = `server: ${e.message}`;
  }
}

// ---- actions ---------------------------------------------------------------

async function act(button, f) {
  if (busy) return;
  busy = true;
  if (button) button.disabled = true;
  $("alice-error").textContent = "";
  try { await f(); } catch (e) { $("alice-error").textContent = e.message; }
  finally { busy = false; if (button) button.disabled = false; }
}

function send(ev) {
  if (ev) ev.preventDefault();
  const started = performance.now();
  act($("send"), async () => {
    const req = { text: $("text").value || null, image: $("image").value || null, edits: $("edits").value };
    const sent = await api("POST", "/api/send", req);
    renderResult(sent, performance.now() - started);
    await refresh(true);
  });
}

async function setPolicy() {
  const c = {
    threshold: parseInt($("threshold").value, 10),
    on_match: $("on-match").value,
    account_threshold: parseInt($("account-threshold").value, 10),
    pdq_dihedral: $("dihedral").checked,
  };
  if (Number.isNaN(c.threshold) || Number.isNaN(c.account_threshold)) {
    $("alice-error").textContent = "policy: enter whole numbers";
    return;
  }
  try {
    await api("POST", "/api/policy", c);
    $("alice-error").textContent = "";
    await refresh(true);
  } catch (e) {
    $("alice-error").textContent = `policy: ${e.message}`;
  }
}

async function upload(file) {
  if (!file) return;
  $("alice-error").textContent = "";
  if (state && file.size > state.max_upload) {
    // The server refuses it too; this saves sending it.
    $("alice-error").textContent = `upload refused: ${file.name} is larger than the limit of ${state.max_upload / 1048576} MB (--max-upload)`;
    return;
  }
  try {
    const u = await api("POST", "/api/upload", file, { "X-File-Name": encodeURIComponent(file.name).slice(0, 200) });
    await refresh(true);
    $("image").value = "upload";
    $("alice-error").textContent = "";
    void u;
  } catch (e) {
    $("alice-error").textContent = e.message;
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("compose").addEventListener("submit", send);
  $("text").addEventListener("keydown", (e) => { if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) send(e); });
  for (const id of ["crop", "resize", "jpeg", "brightness"]) $(id).addEventListener("input", showOutputs);
  for (const id of ["rotate", "mirror"]) $(id).addEventListener("change", showOutputs);
  for (const id of ["threshold", "on-match", "account-threshold", "dihedral"]) $(id).addEventListener("change", setPolicy);
  $("policy").addEventListener("submit", (e) => { e.preventDefault(); setPolicy(); });
  $("file").addEventListener("change", (e) => upload(e.target.files[0]));
  const alice = $("alice");
  alice.addEventListener("dragover", (e) => { e.preventDefault(); });
  alice.addEventListener("drop", (e) => { e.preventDefault(); upload(e.dataTransfer.files[0]); });
  $("guided").addEventListener("click", () => act($("guided"), async () => {
    await api("POST", "/api/guided/next");
    await refresh(true);
  }));
  $("reset").addEventListener("click", () => act($("reset"), async () => {
    await api("POST", "/api/reset");
    openReport = null;
    $("report").replaceChildren();
    await refresh(true);
  }));
  document.addEventListener("keydown", (e) => {
    const typing = ["INPUT", "TEXTAREA", "SELECT"].includes(document.activeElement.tagName);
    if (!typing && (e.key === "n" || e.key === "N") && !e.ctrlKey && !e.metaKey && !e.altKey) {
      $("guided").click();
    }
  });
  showOutputs();
  refresh(true);
  setInterval(() => { if (!busy) refresh(false); }, 700);
});
