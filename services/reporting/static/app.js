// dondoc dashboard. Plain JavaScript, no build step, no CDN: it works offline.
// Every figure comes from /v1/reports/*; text from the API is inserted as text, never as HTML.
"use strict";

const COLOURS = { green: "#2e7d32", orange: "#ef6c00", blue: "#1565c0", grey: "#9e9e9e", red: "#c62828" };

// Vietnamese number format, as the reports print it: 10.527 and 3,2 (not left to the browser's locale data).
function vn(n, decimals = 0) {
  const [int, frac] = Math.abs(n).toFixed(decimals).split(".");
  const grouped = int.replace(/\B(?=(\d{3})+(?!\d))/g, ".");
  return (n < 0 ? "−" : "") + grouped + (frac ? "," + frac : "");
}
const pct = (p) => vn(p, 1) + "%";
const vnDate = (iso) => (iso ? iso.slice(0, 10).split("-").reverse().join("/") : "");

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k === "style") node.style.cssText = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (v !== null && v !== undefined) node.setAttribute(k, v);
  }
  for (const c of children.flat()) node.append(c instanceof Node ? c : document.createTextNode(String(c ?? "")));
  return node;
}

function svg(tag, attrs = {}) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  return node;
}

const state = { agency: "", document: "", as_of: "", as_recorded: "" };

function readUrl() {
  const q = new URLSearchParams(location.search);
  state.agency = q.get("agency") || "";
  state.document = q.get("document") || "";
  state.as_of = q.get("as_of") || "";
  state.as_recorded = q.get("as_recorded") || "";
}

function writeUrl() {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(state)) if (v) q.set(k, v);
  history.replaceState(null, "", q.toString() ? "?" + q : location.pathname);
}

function params(extra = {}) {
  const q = new URLSearchParams();
  if (state.agency) q.set("agency_id", state.agency);
  if (state.document) q.set("document", state.document);
  if (state.as_of) q.set("as_of", state.as_of);
  if (state.as_recorded) q.set("as_recorded", "true");
  for (const [k, v] of Object.entries(extra)) q.set(k, v);
  return q.toString();
}

async function getJson(url) {
  const response = await fetch(url, { headers: { Accept: "application/json" } });
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response.json();
}

// --- filters ------------------------------------------------------------------------------------
async function loadFilters() {
  const [agencies, documents] = await Promise.all([getJson("/v1/reports/agencies"), getJson("/v1/reports/documents")]);
  const agencySelect = document.getElementById("f-agency");
  for (const a of agencies.agencies) {
    agencySelect.append(el("option", { value: a.agency_id }, "\u00a0\u00a0".repeat(a.depth) + a.name));
  }
  const documentSelect = document.getElementById("f-document");
  for (const d of documents.documents) {
    const when = d.issued_on ? ` (${vnDate(d.issued_on)})` : "";
    documentSelect.append(el("option", { value: d.number }, d.number + when));
  }
  agencySelect.value = state.agency;
  documentSelect.value = state.document;
  document.getElementById("f-as-of").value = state.as_of;
  document.getElementById("f-as-recorded").checked = Boolean(state.as_recorded);
}

// --- the figures --------------------------------------------------------------------------------
function fill(selector, figures, source) {
  for (const node of document.querySelectorAll(`[${selector}]`)) {
    const name = node.getAttribute(selector);
    if (name in source) node.textContent = vn(source[name]);
  }
}

function renderCards(report) {
  const f = report.figures;
  fill("data-figure", figures(f), figures(f));
  fill("data-key", figures(report.key_tasks), figures(report.key_tasks));
  document.querySelector('[data-figure="overdue_share"]').textContent = f.overdue_share.text;
  document.querySelector('[data-figure="share_base"]').textContent = vn(f.overdue_share.base_count);
  const change = report.change.overdue_share_points;
  const words = report.previous.basis === "month" ? "so với tháng trước" : "so với kỳ trước";
  document.querySelector('[data-figure="share_change"]').textContent =
    change > 0 ? `tăng ${vn(change, 1)}% ${words}` : change < 0 ? `giảm ${vn(-change, 1)}% ${words}` : `không đổi ${words}`;
  document.getElementById("paragraph").textContent = report.paragraph_vi;
  let moment = report.live ? "số liệu trực tiếp" : `tính đến ${vnDate(report.date)}`;
  if (report.as_recorded) moment += " (theo thời điểm ghi nhận vào dondoc)";
  // A fact recorded after these figures closed changed them: said, never silently.
  if (report.adjusted) moment += ` · ${report.adjusted.note_vi} (${vn(report.adjusted.tasks)} nhiệm vụ)`;
  document.getElementById("scope-line").textContent = `${report.scope} · ${moment}`;
}

function figures(f) {
  return { ...f, overdue_share: f.overdue_share.percent };
}

function stackedBar(f) {
  const parts = [
    ["green", f.completed_on_time, "Hoàn thành đúng hạn"], ["orange", f.completed_late, "Hoàn thành quá hạn"],
    ["blue", f.in_progress, "Đang thực hiện trong hạn"], ["grey", f.not_started, "Chưa triển khai"],
    ["red", f.unfinished_overdue, "Quá hạn"],
  ];
  const total = parts.reduce((s, p) => s + p[1], 0) || 1;
  return el("div", { class: "bar", title: parts.map((p) => `${p[2]}: ${vn(p[1])}`).join(" · ") },
    parts.filter((p) => p[1] > 0).map(([c, n]) => el("span", { class: `${c}-bg`, style: `width:${(100 * n) / total}%` })));
}

function renderAgencies(report) {
  const body = document.querySelector("#by-agency tbody");
  body.replaceChildren();
  document.getElementById("agency-parent").textContent = `(đơn vị thuộc ${report.by_agency.parent.name}, xếp theo số quá hạn)`;
  for (const row of report.by_agency.rows) {
    const f = row.figures;
    const name = row.own ? `${row.name} (trực tiếp chủ trì)` : row.name;
    const link = row.own ? name : el("a", { onclick: () => choose({ agency: row.agency_id }) }, name);
    body.append(el("tr", { class: row.own ? "own" : "", "data-agency": row.agency_id },
      el("td", {}, link), el("td", {}, row.head ? row.head.name : ""),
      el("td", { class: "n", "data-col": "assigned" }, vn(f.assigned)),
      el("td", { class: "n" }, vn(f.completed_on_time)), el("td", { class: "n" }, vn(f.completed_late)),
      el("td", { class: "n" }, vn(f.unfinished_within_deadline)),
      el("td", { class: "n" + (f.unfinished_overdue ? " overdue" : ""), "data-col": "overdue" }, vn(f.unfinished_overdue)),
      el("td", { class: "n" }, f.overdue_share.text), el("td", {}, stackedBar(f))));
  }
  if (!report.by_agency.rows.length) body.append(el("tr", {}, el("td", { colspan: 9, class: "muted" }, "Chưa có nhiệm vụ.")));
}

function renderDocuments(report) {
  const list = document.getElementById("by-document");
  list.replaceChildren();
  for (const d of report.by_document.slice(0, 20)) {
    const f = d.figures;
    const all = f.assigned + f.no_fixed_deadline + f.withdrawn;
    // The rows the document lists and the lead assignments they became (a row with several leads is one
    // task per lead): "17 nhiệm vụ trong danh mục, giao thành 66 nhiệm vụ chủ trì".
    const listed = d.rows_listed && d.rows_listed !== all
      ? `${vn(d.rows_listed)} nhiệm vụ trong danh mục, giao thành ${vn(d.lead_assignments)} nhiệm vụ chủ trì`
      : `${vn(all)} nhiệm vụ`;
    list.append(el("li", { "data-document": d.document },
      el("div", { class: "label" }, el("b", {}, d.document),
        el("span", { "data-col": "listed" }, `${listed} · hoàn thành ${vn(f.completed)}/${vn(f.assigned)} (${pct(d.completed_percent)})`)),
      stackedBar(f)));
  }
  if (!report.by_document.length) list.append(el("li", { class: "muted" }, "Chưa có văn bản."));
}

function renderAgeing(report) {
  const list = document.getElementById("ageing");
  list.replaceChildren();
  const max = Math.max(1, ...report.ageing.map((b) => b.count));
  for (const b of report.ageing) {
    list.append(el("li", { "data-band": b.band }, el("span", {}, b.label_vi),
      el("div", { class: "track" }, el("div", { class: "fill", style: `width:${(100 * b.count) / max}%` })),
      el("span", { class: "n" }, vn(b.count))));
  }
}

function renderOverdue(report) {
  const body = document.querySelector("#overdue tbody");
  body.replaceChildren();
  const o = report.overdue;
  document.getElementById("overdue-count").textContent =
    o.total > o.shown ? `(${vn(o.shown)} trên tổng số ${vn(o.total)})` : `(${vn(o.total)})`;
  for (const item of o.items) {
    const person = item.person_name
      ? `${item.person_name}${item.person_title ? ", " + item.person_title : ""}${item.person_role === "head" ? " (người đứng đầu)" : ""}`
      : "";
    body.append(el("tr", { "data-task": item.task_id },
      el("td", {}, el("a", { onclick: () => showTree(item.task_id) }, item.code)),
      el("td", {}, item.key_task ? "★ " : "", item.title),
      el("td", {}, item.lead_agency_name || item.lead_agency_id), el("td", {}, person),
      el("td", { class: "n" }, vnDate(item.due)),
      el("td", { class: "n overdue", "data-col": "days" }, vn(item.days_overdue))));
  }
  if (!o.items.length) body.append(el("tr", {}, el("td", { colspan: 6, class: "muted" }, "Không có nhiệm vụ quá hạn.")));
}

function renderTrend(trend) {
  const box = document.getElementById("trend");
  box.replaceChildren();
  const points = trend.points;
  const W = 900, H = 240, left = 44, right = 44, top = 12, bottom = 28;
  const chart = svg("svg", { viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: "none" });
  const max = Math.max(1, ...points.map((p) => p.figures.assigned));
  const maxShare = Math.max(1, ...points.map((p) => p.figures.overdue_share.percent));
  const step = (W - left - right) / Math.max(1, points.length);
  const y = (n) => top + (H - top - bottom) * (1 - n / max);
  for (let i = 0; i <= 4; i++) {
    const v = Math.round((max * i) / 4);
    chart.append(svg("line", { x1: left, x2: W - right, y1: y(v), y2: y(v), stroke: "#e3e7ec" }));
    const label = svg("text", { x: left - 6, y: y(v) + 4, "text-anchor": "end" });
    label.textContent = vn(v);
    chart.append(label);
  }
  const line = [];
  points.forEach((p, i) => {
    const f = p.figures;
    let base = 0;
    const x = left + i * step + step * 0.18;
    for (const [colour, n] of [["green", f.completed_on_time], ["orange", f.completed_late], ["blue", f.in_progress],
      ["grey", f.not_started], ["red", f.unfinished_overdue]]) {
      if (n > 0) chart.append(svg("rect", { x, width: step * 0.64, y: y(base + n), height: y(base) - y(base + n), fill: COLOURS[colour] }));
      base += n;
    }
    const label = svg("text", { x: left + i * step + step / 2, y: H - 8, "text-anchor": "middle" });
    label.textContent = p.month.slice(5) + "/" + p.month.slice(2, 4) + (p.adjusted ? "*" : "");
    if (p.adjusted) {
      label.setAttribute("data-adjusted", p.month);
      const tip = svg("title", {});
      tip.textContent = `${p.adjusted.note_vi} (${vn(p.adjusted.tasks)} nhiệm vụ)`;
      label.append(tip);
    }
    chart.append(label);
    line.push([left + i * step + step / 2, top + (H - top - bottom) * (1 - f.overdue_share.percent / maxShare)]);
  });
  chart.append(svg("polyline", { points: line.map((p) => p.join(",")).join(" "), fill: "none", stroke: "#000", "stroke-width": 2 }));
  const shareLabel = svg("text", { x: W - right + 6, y: top + 10 });
  shareLabel.textContent = pct(maxShare);
  chart.append(shareLabel);
  box.append(chart);
}

// --- a task's delegation tree -------------------------------------------------------------------
const BUCKET_COLOUR = { on_time: "green", late: "orange", started: "blue", new: "grey", nodl_open: "blue",
  nodl_done: "green", withdrawn: "grey" };
const BUCKET_WORDS = { on_time: "Hoàn thành đúng hạn", late: "Hoàn thành quá hạn", started: "Đang thực hiện",
  new: "Chưa triển khai", nodl_open: "Đang thực hiện (không có thời hạn)", nodl_done: "Đã hoàn thành", withdrawn: "Đã rút" };

async function showTree(taskId) {
  const box = document.getElementById("tree");
  box.replaceChildren(el("p", { class: "muted" }, "Đang tải…"));
  let body;
  try {
    body = await getJson(`/v1/reports/tasks/${encodeURIComponent(taskId)}/tree`);
  } catch (e) {
    box.replaceChildren(el("p", { class: "status-bad" }, "Không tải được cây giao việc."));
    return;
  }
  const today = state.as_of || new Date().toISOString().slice(0, 10);
  const byParent = new Map();
  for (const n of body.nodes) {
    const key = n.depth === 0 ? "root" : n.parent_task_id;
    if (!byParent.has(key)) byParent.set(key, []);
    byParent.get(key).push(n);
  }
  const render = (nodes) => el("ul", {}, nodes.map((n) => {
    const overdue = (n.bucket === "new" || n.bucket === "started") && n.due && n.due < today;
    const colour = overdue ? "red" : BUCKET_COLOUR[n.bucket] || "grey";
    const words = n.hidden ? "" : overdue ? "Quá hạn" : BUCKET_WORDS[n.bucket] || "";
    const meta = n.hidden ? "Nhiệm vụ mật: chỉ cơ quan liên quan được xem." :
      `${n.lead_agency_name || n.lead_agency_id} chủ trì · giao bởi ${n.assigning_agency_name || n.assigning_agency_id}` +
      (n.due ? ` · hạn ${vnDate(n.due)}` : "") + (n.original_due && n.original_due !== n.due ? ` (hạn ban đầu ${vnDate(n.original_due)})` : "") +
      (n.officer_name ? ` · ${n.officer_name}` : "") + (words ? ` · ${words}` : "");
    return el("li", { "data-task": n.task_id || "" },
      el("span", { class: "node" }, el("i", { class: "dot", style: `background:${COLOURS[colour]}` }),
        el("b", {}, n.code), " ", n.title, n.task_id === taskId ? " ◀" : ""),
      el("span", { class: "meta" }, meta),
      byParent.has(n.task_id) ? render(byParent.get(n.task_id)) : "");
  }));
  box.replaceChildren(render(byParent.get("root") || []));
}

async function searchTasks(event) {
  event.preventDefault();
  const q = document.getElementById("tree-q").value.trim();
  const list = document.getElementById("tree-results");
  list.replaceChildren();
  if (!q) return;
  const body = await getJson(`/v1/reports/tasks?q=${encodeURIComponent(q)}`);
  for (const t of body.tasks) list.append(el("li", {}, el("a", { onclick: () => showTree(t.task_id) }, `${t.code} — ${t.title}`)));
  if (!body.tasks.length) list.append(el("li", { class: "muted" }, "Không tìm thấy nhiệm vụ."));
}

// --- live alerts (server-sent events, through this service) --------------------------------------
// A person's alerts are theirs: the alerts service shows them only to a token of the person's agency.
// The token is kept in sessionStorage (this tab only, gone when it closes; never localStorage, never
// the URL, which ends up in server logs and browser history) and sent as an Authorization header.
// EventSource cannot send headers, so the stream is read with fetch() and parsed here; after a break
// it is opened again with Last-Event-ID, and the alerts service resumes after the last entry seen.
// A refusal (401/403 on opening, or a "refused" event that ends an open stream when the token is
// revoked or the person moves to another agency) is shown and never retried: another token is needed.
const TOKEN_KEY = "dondoc.agencyToken";
const live = { controller: null, retryTimer: null };

function setAlertsStatus(state, text) {
  const node = document.getElementById("alerts-status");
  node.dataset.state = state;
  node.className = state === "connected" ? "status-ok" : state === "idle" || state === "connecting" ? "muted" : "status-bad";
  node.textContent = text;
}

function stopAlerts() {
  if (live.controller) live.controller.abort();
  live.controller = null;
  clearTimeout(live.retryTimer);
}

function watchAlerts(personId) {
  stopAlerts();
  document.getElementById("alerts").replaceChildren();
  if (!personId) {
    setAlertsStatus("idle", "Nhập mã cán bộ để nhận cảnh báo của người đó.");
    return;
  }
  localStorage.setItem("dondoc.person", personId);
  // A signed-in person reads with their own access token; an agency token pasted here is the fallback
  // for machine-like use of the page (and installations without sign-in).
  const token = dondocAuth.bearer() || sessionStorage.getItem(TOKEN_KEY) || "";
  if (!token) {
    setAlertsStatus("need-token", "Cần nhập mã xác thực của cơ quan để xem cảnh báo: cảnh báo của một cán bộ " +
      "chỉ hiển thị cho chính cơ quan của người đó.");
    return;
  }
  const controller = new AbortController();
  live.controller = controller;
  follow(personId, token, controller, { lastEventId: "", retryMs: 2000 });
}

async function follow(personId, token, controller, cursor) {
  if (document.getElementById("alerts-status").dataset.state !== "unavailable") {
    setAlertsStatus("connecting", "Đang kết nối dịch vụ cảnh báo…");
  }
  // A signed-in person's access token is short-lived and refreshed: each (re)connection takes the
  // current one; an agency token stays as given.
  const bearer = dondocAuth.bearer() || token;
  try {
    const headers = { Accept: "text/event-stream", Authorization: `Bearer ${bearer}` };
    if (cursor.lastEventId) headers["Last-Event-ID"] = cursor.lastEventId;
    const response = await fetch(`/v1/reports/alerts/stream?person_id=${encodeURIComponent(personId)}`,
      { headers, signal: controller.signal, cache: "no-store" });
    if (response.status === 401 || response.status === 403) {
      refused(personId, response.status, await detailOf(response));
      return; // not retried: another token is needed
    }
    if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
    await readEvents(response.body, cursor, (event) => cursor.refused || onAlertEvent(personId, event, cursor));
    if (cursor.refused && dondocAuth.bearer() && dondocAuth.bearer() !== bearer) {
      cursor.refused = false; // the access token it opened with expired and was refreshed: go on with the new one
      setAlertsStatus("connecting", "Đang kết nối lại với phiên đăng nhập mới…");
    } else if (cursor.refused) {
      return; // refused while open (token revoked, person moved…): not retried either
    }
    if (document.getElementById("alerts-status").dataset.state !== "unavailable") {
      setAlertsStatus("broken", "Mất kết nối dịch vụ cảnh báo; đang thử lại…");
    }
  } catch (e) {
    if (controller.signal.aborted) return;
    setAlertsStatus("broken", "Mất kết nối dịch vụ cảnh báo; sẽ tự thử lại.");
  }
  if (!controller.signal.aborted) {
    live.retryTimer = setTimeout(() => follow(personId, token, controller, cursor), cursor.retryMs);
  }
}

async function detailOf(response) {
  try {
    return (await response.json()).detail || {};
  } catch {
    return {};
  }
}

function refused(personId, status, detail, whileOpen = false) {
  if (whileOpen) {
    setAlertsStatus("refused", `Đã ngừng nhận cảnh báo của ${personId}: ` +
      (detail.message_vi || "mã xác thực không còn được chấp nhận") + ".");
  } else if (status === 401) {
    setAlertsStatus("refused", "Mã xác thực của cơ quan không được chấp nhận (thiếu, sai hoặc cấp cho hệ thống khác). " +
      "Hãy nhập lại mã do cơ quan cấp.");
  } else {
    setAlertsStatus("refused", `Không được xem cảnh báo của ${personId}: ` +
      (detail.message_vi || "mã xác thực không phải của cơ quan người này") + ".");
  }
}

// text/event-stream, as the HTML standard parses it: fields up to a blank line make one event.
async function readEvents(body, cursor, dispatch) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "", type = "", data = [];
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    const lines = buffer.split("\n");
    buffer = lines.pop();
    for (const raw of lines) {
      const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
      if (line === "") {
        if (data.length) dispatch({ type: type || "message", data: data.join("\n") });
        type = "";
        data = [];
        continue;
      }
      if (line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      let val = colon < 0 ? "" : line.slice(colon + 1);
      if (val.startsWith(" ")) val = val.slice(1);
      if (field === "event") type = val;
      else if (field === "data") data.push(val);
      else if (field === "id" && !val.includes("\0")) cursor.lastEventId = val;
      else if (field === "retry" && /^\d+$/.test(val)) cursor.retryMs = Number(val);
    }
  }
}

const CLOSED_WORDS = { acknowledged: "Đã xác nhận đã nhận", resolved: "Đã xử lý xong" };

function onAlertEvent(personId, event, cursor) {
  let info;
  try { info = JSON.parse(event.data); } catch { return; }
  const list = document.getElementById("alerts");
  if (event.type === "refused") {
    // The alerts service asks again while the stream is open: the token was revoked, its agency
    // abolished, or the person moved to another agency. The stream ends; the alerts shown stay.
    cursor.refused = true;
    refused(personId, info.status, info, true);
  } else if (event.type === "connected") {
    setAlertsStatus("connected", `Đang nhận cảnh báo của ${personId}.`);
  } else if (event.type === "unavailable") {
    setAlertsStatus("unavailable", `${info.message_vi}; sẽ tự thử lại. Số liệu báo cáo vẫn dùng được.`);
  } else if (event.type === "alert" || event.type === "reminder" || event.type === "message") {
    const alert = info.alert || info;
    const again = event.type === "reminder" ? `Nhắc lại lần ${alert.reminder}: ` : "";
    list.prepend(el("li", { class: alert.kind === "overdue" ? "overdue" : "", "data-alert": alert.alert_id || "",
      "data-task": alert.task_id || "" },
    el("b", {}, alert.title || alert.task_id || ""), el("br"), again, alert.message_vi || event.data));
  } else if (event.type === "digest") {
    list.prepend(el("li", { class: "digest" }, info.text || ""));
  } else if (event.type in CLOSED_WORDS) {
    for (const item of list.querySelectorAll("li[data-alert]")) {
      if (item.dataset.alert !== String(info.alert_id) || item.classList.contains("done")) continue;
      item.classList.add("done");
      item.append(el("br"), el("span", { class: "meta" }, CLOSED_WORDS[event.type]));
    }
  }
}

function saveToken(value) {
  const token = value.trim().replace(/^Bearer\s+/i, "");
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
}

// --- reorganisations: the new structure now, the old one as of the day before the decision took effect ------
let reorganisations = [];

function renderReorganisations() {
  const list = document.getElementById("reorganisations");
  list.replaceChildren();
  for (const r of reorganisations) {
    const old = state.as_of && state.as_of <= r.old_structure_as_of;
    const reading = old ? `Đang xem theo cơ cấu cũ (đến ${vnDate(r.old_structure_as_of)}).` : "Đang xem theo cơ cấu mới.";
    const other = old
      ? el("button", { type: "button", class: "secondary" }, "Xem theo cơ cấu mới")
      : el("button", { type: "button", class: "secondary" }, `Xem theo cơ cấu cũ (${vnDate(r.old_structure_as_of)})`);
    other.addEventListener("click", () => {
      document.getElementById("f-as-of").value = old ? "" : r.old_structure_as_of;
      choose({ as_of: old ? "" : r.old_structure_as_of });
    });
    list.append(el("li", { "data-reorganisation": r.reorganisation_id },
      `Sắp xếp theo văn bản số ${r.decision.number} của ${r.decision.issuer}: ${r.tasks} nhiệm vụ của ` +
      `${r.from_name} chuyển cho ${r.to_name} từ ${vnDate(r.effective_on)}. ${reading} `, other));
  }
  list.hidden = reorganisations.length === 0;
}

// --- wiring -------------------------------------------------------------------------------------
async function refresh() {
  renderReorganisations();
  document.body.setAttribute("aria-busy", "true");
  // The Word report (Nghị định 30/2020/NĐ-CP format) of exactly what is on screen.
  document.getElementById("export-docx").href = `/v1/reports/summary.docx?${params()}`;
  try {
    const [report, trend] = await Promise.all([
      getJson(`/v1/reports/summary?${params()}`),
      getJson(`/v1/reports/trend?${params()}`),
    ]);
    renderCards(report);
    renderAgencies(report);
    renderDocuments(report);
    renderAgeing(report);
    renderOverdue(report);
    renderTrend(trend);
    document.body.dataset.loaded = report.as_of;
  } catch (e) {
    document.getElementById("scope-line").textContent = "Không tải được số liệu: " + e.message;
  } finally {
    document.body.removeAttribute("aria-busy");
  }
}

function choose(changes) {
  Object.assign(state, changes);
  document.getElementById("f-agency").value = state.agency;
  writeUrl();
  refresh();
}

document.getElementById("filters").addEventListener("submit", (e) => {
  e.preventDefault();
  choose({
    agency: document.getElementById("f-agency").value,
    document: document.getElementById("f-document").value,
    as_of: document.getElementById("f-as-of").value,
    as_recorded: document.getElementById("f-as-recorded").checked ? "true" : "",
  });
});
document.getElementById("tree-search").addEventListener("submit", searchTasks);
document.getElementById("alerts-form").addEventListener("submit", (e) => {
  e.preventDefault();
  saveToken(document.getElementById("alerts-token").value);
  watchAlerts(document.getElementById("alerts-person").value.trim());
});
document.getElementById("alerts-forget").addEventListener("click", () => {
  document.getElementById("alerts-token").value = "";
  saveToken("");
  watchAlerts(document.getElementById("alerts-person").value.trim());
});
document.getElementById("alerts-token").value = sessionStorage.getItem(TOKEN_KEY) || "";

readUrl();
getJson("/v1/reports/reorganisations").then((r) => { reorganisations = r.reorganisations; renderReorganisations(); })
  .catch(() => {});
loadFilters().catch(() => {}).finally(refresh);
const savedPerson = new URLSearchParams(location.search).get("person") || localStorage.getItem("dondoc.person");
if (savedPerson) {
  document.getElementById("alerts-person").value = savedPerson;
  watchAlerts(savedPerson);
}

// --- people signed in: "Việc của tôi" --------------------------------------------------------------
// A signed-in person's own alerts follow them live; the agency token form is for installations without
// sign-in (or machine-like use) and is hidden while someone is signed in.
function showAccount(message) {
  const box = document.getElementById("account");
  box.hidden = !dondocAuth.enabled();
  const who = dondocAuth.person();
  document.getElementById("sign-in").hidden = Boolean(who);
  document.getElementById("sign-out").hidden = !who;
  document.getElementById("account-name").textContent = who ? `${who.name || who.person_id} · ${who.agency_id}` : "";
  document.getElementById("account-note").textContent = message || "";
  document.getElementById("alerts-form").hidden = Boolean(who);
  document.getElementById("alerts-title").textContent = who ? "Việc của tôi — cảnh báo trực tiếp" : "Cảnh báo trực tiếp";
  if (who) {
    document.getElementById("alerts-person").value = who.person_id;
    watchAlerts(who.person_id);
  }
}
dondocAuth.onChange(showAccount);
document.getElementById("sign-in").addEventListener("click", () => dondocAuth.signIn());
document.getElementById("sign-out").addEventListener("click", () => {
  stopAlerts();
  dondocAuth.signOut();
});
dondocAuth.start();
