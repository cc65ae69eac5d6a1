// Messages sent through the contact form of the tenant's public page.

import { get, query } from "../core/api.js";
import { h, clear } from "../core/dom.js";
import { dateTime } from "../core/format.js";
import { pageHeader, card, listView } from "../core/ui.js";

export async function render(view) {
  clear(view);
  const list = listView({
    columns: [
      { label: "Received", render: (m) => dateTime(m.created_at) },
      { label: "From", render: (m) => h("a", { href: "mailto:" + m.email, text: `${m.name} <${m.email}>` }) },
      { label: "Message", render: (m) => h("span", { class: "pre", text: m.message }) },
    ],
    caption: "Contact messages", empty: "No messages yet.",
    load: (state) => get("/api/admin/contact-submissions" + query({ limit: state.limit, offset: state.offset })),
  });
  view.append(pageHeader("Inbox"), card(null, list));
}
