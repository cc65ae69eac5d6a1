// Posts: news for the tenant's public page — drafts, publishing, unpublishing and
// deleting (asked first).

import { get, post, patch, del, query } from "../core/api.js";
import { h, clear } from "../core/dom.js";
import { date, words } from "../core/format.js";
import { makeForm } from "../core/forms.js";
import { pageHeader, card, badge, listView, confirmAction, notify, failed, linkButton } from "../core/ui.js";
import { slugify } from "./services.js";

function fields(p) {
  const x = p || {};
  return [
    { name: "title", label: "Title", required: true, value: x.title, maxlength: 200 },
    { name: "body", label: "Text", type: "textarea", rows: 8, value: x.body },
    { name: "slug", label: "Web address name", value: x.slug, help: "Made from the title if left empty." },
  ];
}

export async function render(view, ctx) {
  clear(view);
  if (ctx.id && ctx.id !== "new") {
    const item = await get(`/api/admin/posts/${ctx.id}`);
    const reload = async (m) => { notify(m); await render(view, ctx); };
    const form = makeForm({
      fields: fields(item), submit: "Save", codeFields: { slug_taken: "slug" },
      onSubmit: async (values) => {
        await patch(`/api/admin/posts/${ctx.id}`, { title: values.title, body: values.body || "", slug: values.slug || slugify(values.title) });
        notify("Saved.");
      },
    });
    const toggle = item.status === "published"
      ? h("button", { type: "button", class: "secondary", text: "Unpublish", onclick: async () => { try { await post(`/api/admin/posts/${ctx.id}/unpublish`); await reload("Unpublished."); } catch (e) { failed(e); } } })
      : h("button", { type: "button", text: "Publish", onclick: async () => { try { await post(`/api/admin/posts/${ctx.id}/publish`); await reload("Published."); } catch (e) { failed(e); } } });
    const remove = h("button", { type: "button", class: "danger", text: "Delete", onclick: async () => {
      if (!(await confirmAction(`Delete “${item.title}”?`, "Delete", { detail: "This cannot be undone." }))) return;
      try { await del(`/api/admin/posts/${ctx.id}`); window.location.assign("/app/posts"); } catch (e) { failed(e); }
    } });
    view.append(pageHeader(item.title, linkButton("/app/posts", "All posts", true)),
      card(null, h("p", {}, badge(item.status), item.published_at ? " " + date(item.published_at) : ""), h("div", { class: "actions-row" }, toggle, remove)),
      card("Edit", form));
    return;
  }
  const list = listView({
    filters: [{ name: "status", label: "Status", options: ["draft", "published"].map((s) => ({ value: s, label: words(s) })) }],
    columns: [
      { label: "Title", render: (p) => h("a", { href: `/app/posts/${p.id}`, text: p.title }) },
      { label: "Status", render: (p) => badge(p.status) },
      { label: "Published", render: (p) => (p.published_at ? date(p.published_at) : "—") },
    ],
    caption: "Posts", empty: "No posts yet.",
    load: (state) => get("/api/admin/posts" + query({ status: state.status, limit: state.limit, offset: state.offset })),
  });
  const form = makeForm({
    fields: fields(null), submit: "Save draft", codeFields: { slug_taken: "slug" },
    onSubmit: async (values) => {
      const created = await post("/api/admin/posts", { title: values.title, body: values.body || "", slug: values.slug || slugify(values.title) });
      window.location.assign(`/app/posts/${created.id}`);
    },
  });
  view.append(pageHeader("Posts"), card(null, list), card("Write a post", form));
}
