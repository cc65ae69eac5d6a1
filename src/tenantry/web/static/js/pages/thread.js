// A request's conversation and files, for staff (/api/admin/...) and for the client
// who filed it (/api/portal/...): messages oldest first, a box to write, uploads.

import { get, post, api, query } from "../core/api.js";
import { h, clear } from "../core/dom.js";
import { dateTime, words } from "../core/format.js";
import { makeForm } from "../core/forms.js";
import { card, badge, notify } from "../core/ui.js";
import { loadPeople, personLabel } from "../core/lookups.js";

function size(bytes) {
  if (bytes < 1024) return bytes + " B";
  if (bytes < 1024 * 1024) return (bytes / 1024).toFixed(0) + " KB";
  return (bytes / 1024 / 1024).toFixed(1) + " MB";
}

export function chatCard({ base, requestId, me, portal }) {
  const list = h("ol", { class: "chat", id: "chat", "aria-label": "Messages", "aria-live": "polite" });
  async function load() {
    const page = await get(`${base}/service-requests/${requestId}/chat` + query({ limit: 200 }));
    if (!portal) await loadPeople(page.items.map((m) => m.sender_id));
    clear(list);
    if (!page.items.length) list.appendChild(h("li", { class: "empty", text: "No messages yet." }));
    page.items.forEach((m) => {
      const mine = m.sender_id === me;
      const who = mine ? "You" : portal ? "The team" : personLabel(m.sender_id, "Client");
      list.appendChild(h("li", { class: mine ? "mine" : "" },
        h("p", { class: "meta", text: `${who} · ${dateTime(m.created_at)}` }),
        h("p", { class: "body", text: m.body })));
    });
    list.scrollTop = list.scrollHeight;
  }
  const form = makeForm({
    fields: [{ name: "body", label: "Message", type: "textarea", required: true, rows: 3, maxlength: 4000 }],
    submit: "Send message",
    onSubmit: async (values, formEl) => {
      await post(`${base}/service-requests/${requestId}/chat`, { body: values.body });
      formEl.reset();
      await load();
    },
  });
  load();
  return card("Messages", list, form);
}

export function filesCard({ base, requestId, portal }) {
  const list = h("ul", { class: "files", id: "files" });
  async function load() {
    const page = await get(`${base}/service-requests/${requestId}/attachments` + query({ limit: 100 }));
    clear(list);
    if (!page.items.length) list.appendChild(h("li", { class: "empty", text: "No files yet." }));
    page.items.forEach((a) => {
      const label = `${a.filename} (${size(a.size_bytes)})`;
      list.appendChild(h("li", {},
        a.scan_status === "clean"
          ? h("a", { href: `${portal ? "/api/portal" : "/api/admin"}/attachments/${a.id}/download`, text: label, download: a.filename })
          : h("span", { text: label }),
        " ", badge(a.scan_status, "scan")));
    });
  }
  const form = makeForm({
    fields: [{ name: "file", label: "Add a photo or document", type: "file", required: true, accept: "image/*,application/pdf,text/plain,text/csv",
      help: "Pictures, PDF or text, up to 10 MB. Files are checked for viruses before anyone can open them." }],
    submit: "Upload",
    codeFields: { payload_too_large: "file", unsupported_media_type: "file", file_too_large: "file", content_type_not_allowed: "file" },
    onSubmit: async (values, formEl) => {
      const data = new FormData();
      data.append("file", values.file);
      await api("POST", `${base}/service-requests/${requestId}/attachments`, data);
      formEl.reset();
      notify("Uploaded " + values.file.name + ".");
      await load();
    },
  });
  load();
  return card("Files", list, form);
}

export function statusLine(request) {
  return [badge(request.status), " ", h("span", { class: "muted", text: "Priority: " + words(request.priority) })];
}
