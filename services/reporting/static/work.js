"use strict";
// A signed-in person's work: "Việc của tôi" (their own open tasks: report progress, report completion)
// and, for a head, "Chờ lãnh đạo quyết định" (completions to confirm or return, extensions to decide);
// and any task's history, each step named by who took it. Everything goes to this page's own origin
// (services/reporting/dashboard_actions.py relays it to the service that owns it) with the person's
// access token from memory (signin.js) in the Authorization header — never in a URL, never stored.
// Text from the API is inserted as text (el), never as HTML.
const dondocWork = (() => {
  const STATUS_WORDS = {
    assigned: "Mới giao", in_progress: "Đang thực hiện", completion_reported: "Đã báo cáo hoàn thành, chờ xác nhận",
  };
  const STEP_WORDS = {
    TaskAssigned: "Giao nhiệm vụ", TaskDelegated: "Giao tiếp cho đơn vị", ProgressReported: "Báo cáo tiến độ",
    CompletionReported: "Báo cáo hoàn thành", CompletionReturned: "Trả lại báo cáo hoàn thành",
    TaskCompleted: "Xác nhận hoàn thành", CoordinationNoteAdded: "Ghi chú phối hợp",
    ReminderLeadTimesSet: "Đặt lịch nhắc hạn", DeadlineApproaching: "Sắp đến hạn", TaskOverdue: "Quá hạn",
    DeadlineExtensionRequested: "Đề nghị gia hạn", DeadlineExtended: "Đồng ý gia hạn",
    DeadlineExtensionRejected: "Không đồng ý gia hạn", TaskWithdrawn: "Rút nhiệm vụ", AlertRaised: "Cảnh báo",
    AlertDelivered: "Đã gửi cảnh báo", AlertAcknowledged: "Đã xem cảnh báo", AlertEscalated: "Báo cáo lên cấp trên",
    AlertResolved: "Cảnh báo đã xử lý",
  };

  const key = () => (crypto.randomUUID ? crypto.randomUUID()
    : Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join(""));

  async function call(method, url, body) {
    const headers = { Accept: "application/json" };
    const bearer = dondocAuth.bearer();
    if (bearer) headers.Authorization = `Bearer ${bearer}`;
    if (body) headers["Content-Type"] = "application/json";
    const response = await fetch(url, { method, headers, body: body ? JSON.stringify(body) : undefined });
    let data = null;
    try {
      data = await response.json();
    } catch {
      data = null;
    }
    if (!response.ok) {
      const d = data && data.detail;
      const text = d && d.message_vi ? d.message_vi : `Yêu cầu không thành công (HTTP ${response.status}).`;
      throw new Error(text);
    }
    return data;
  }

  function say(text, bad = false) {
    const note = document.getElementById("work-note");
    note.textContent = text;
    note.className = bad ? "status-bad" : "muted";
  }

  // One action of a row: run it, reload the lists (the owning service answers with its new state at
  // once; the history follows the events a moment later), then say what happened.
  async function act(label, method, url, body) {
    say(`Đang gửi: ${label}…`);
    let refusal = null;
    try {
      await call(method, url, body);
    } catch (e) {
      refusal = e.message;
    }
    await load();
    // Said once the lists show the new state, so what is read next to it is already true.
    say(refusal || `Đã ghi nhận: ${label}.`, Boolean(refusal));
  }

  const taskUrl = (t, what) => `/v1/reports/tasks/${encodeURIComponent(t.task_id)}/${what}`;
  const headline = (t) => el("span", { class: "node" }, el("b", {}, t.code), " ", t.title);
  const historyButton = (t) => el("button", { type: "button", class: "secondary", "data-action": "history",
    onclick: () => showHistory(t.task_id, t.code) }, "Lịch sử");

  function mineRow(t) {
    const percent = el("input", { type: "number", min: "0", max: "100", value: String(t.percent || 0),
      "aria-label": "Tỷ lệ hoàn thành (%)", name: "percent", class: "pct" });
    const note = el("input", { name: "note", placeholder: "Nội dung tiến độ", "aria-label": "Nội dung tiến độ",
      maxlength: "2000" });
    const product = el("input", { name: "product", placeholder: "Sản phẩm: số, ngày văn bản hoặc đường dẫn",
      "aria-label": "Sản phẩm", maxlength: "2000" });
    const waiting = t.status === "completion_reported";
    return el("li", { "data-task": t.task_id, "data-code": t.code },
      headline(t),
      el("span", { class: "meta" }, `${t.lead_agency_name || t.lead_agency_id} chủ trì` +
        (t.due ? ` · hạn ${vnDate(t.due)}` : "") + ` · ${STATUS_WORDS[t.status] || t.status} · ${t.percent || 0}%`),
      waiting ? "" : el("span", { class: "row" }, percent, note,
        el("button", { type: "button", "data-action": "progress", onclick: () => act("báo cáo tiến độ", "POST",
          taskUrl(t, "progress"), { percent: Number(percent.value), note: note.value, idempotency_key: key() }) },
        "Báo cáo tiến độ")),
      waiting ? "" : el("span", { class: "row" }, product,
        el("button", { type: "button", "data-action": "complete", onclick: () => act("báo cáo hoàn thành", "POST",
          taskUrl(t, "complete"), { product: product.value, idempotency_key: key() }) }, "Báo cáo hoàn thành")),
      el("span", { class: "row" }, historyButton(t)));
  }

  function decideRow(t) {
    const reason = el("input", { name: "reason", placeholder: "Lý do trả lại", "aria-label": "Lý do trả lại",
      maxlength: "2000" });
    return el("li", { "data-task": t.task_id, "data-code": t.code },
      headline(t),
      el("span", { class: "meta" }, `${t.lead_agency_name || t.lead_agency_id} báo cáo hoàn thành` +
        (t.reported_on ? ` ngày ${vnDate(t.reported_on)}` : "") + (t.product ? ` · sản phẩm: ${t.product}` : "")),
      el("span", { class: "row" },
        el("button", { type: "button", "data-action": "confirm", onclick: () => act("xác nhận hoàn thành", "POST",
          taskUrl(t, "confirm"), { idempotency_key: key() }) }, "Xác nhận hoàn thành"),
        reason,
        el("button", { type: "button", class: "secondary", "data-action": "return", onclick: () => act(
          "trả lại báo cáo", "POST", taskUrl(t, "return"), { reason: reason.value, idempotency_key: key() }) },
        "Trả lại"),
        historyButton(t)));
  }

  function extensionRow(x) {
    const reason = el("input", { name: "reason", placeholder: "Lý do không đồng ý", maxlength: "2000",
      "aria-label": "Lý do không đồng ý" });
    const url = `/v1/reports/tasks/${encodeURIComponent(x.task_id)}/extensions/` +
      `${encodeURIComponent(x.request_id)}/decision`;
    const proposed = x.proposed_deadline && (x.proposed_deadline.text || x.proposed_deadline.due || "");
    return el("li", { "data-task": x.task_id, "data-code": x.code },
      headline(x),
      el("span", { class: "meta" }, `${x.lead_agency_name || x.lead_agency_id} đề nghị gia hạn` +
        (proposed ? ` đến ${proposed}` : "") + (x.reason ? ` · lý do: ${x.reason}` : "")),
      el("span", { class: "row" },
        el("button", { type: "button", "data-action": "approve", onclick: () => act("đồng ý gia hạn", "POST", url,
          { decision: "approve" }) }, "Đồng ý gia hạn"),
        reason,
        el("button", { type: "button", class: "secondary", "data-action": "reject", onclick: () => act(
          "không đồng ý gia hạn", "POST", url, { decision: "reject", reason: reason.value }) }, "Không đồng ý"),
        historyButton(x)));
  }

  function fillList(id, rows, render, empty) {
    const list = document.getElementById(id);
    list.replaceChildren(...(rows.length ? rows.map(render) : [el("li", { class: "muted" }, empty)]));
  }

  async function load() {
    const panel = document.getElementById("work");
    const who = dondocAuth.person();
    panel.hidden = !who;
    if (!who) return;
    let work;
    try {
      work = await call("GET", "/v1/reports/worklist");
    } catch (e) {
      say(e.message, true);
      return;
    }
    fillList("my-tasks", work.mine, mineRow, "Không có nhiệm vụ nào bạn được phân công phụ trách đang mở.");
    const decides = (who.realm_access && (who.realm_access.roles || []).includes("head")) ||
      work.to_decide.length > 0 || work.extensions.length > 0;
    document.getElementById("to-decide-box").hidden = !decides;
    fillList("to-decide", [...work.to_decide.map((t) => ({ kind: "done", t })),
      ...work.extensions.map((t) => ({ kind: "ext", t }))],
    (r) => (r.kind === "done" ? decideRow(r.t) : extensionRow(r.t)), "Không có việc nào chờ quyết định.");
    panel.dataset.loaded = String(Date.now());
  }

  async function showHistory(taskId, code) {
    const box = document.getElementById("history");
    document.getElementById("history-title").textContent = `Lịch sử nhiệm vụ ${code || ""}`.trim();
    box.replaceChildren(el("li", { class: "muted" }, "Đang tải…"));
    let body;
    try {
      body = await call("GET", `/v1/reports/tasks/${encodeURIComponent(taskId)}/history`);
    } catch (e) {
      box.replaceChildren(el("li", { class: "status-bad" }, e.message));
      return;
    }
    box.dataset.task = taskId;
    box.replaceChildren(...body.steps.map((s) => el("li", { "data-step": s.event_type },
      el("b", {}, STEP_WORDS[s.event_type] || s.event_type), " — ",
      el("span", { class: "by", "data-kind": s.by.kind }, s.by.text),
      el("span", { class: "meta" }, `${vnDate(s.occurred_at)} ${(s.occurred_at || "").slice(11, 16)}` +
        (s.payload && s.payload.percent !== undefined ? ` · ${s.payload.percent}%` : "")))));
  }

  dondocAuth.onChange(() => {
    load();
  });
  return { load, showHistory };
})();
