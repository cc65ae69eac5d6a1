// Services catalogue: list, add, edit, retire (with a confirmation) and reactivate.

import { get, post, patch, del, query } from "../core/api.js";
import { h, clear } from "../core/dom.js";
import { money, duration } from "../core/format.js";
import { makeForm } from "../core/forms.js";
import { pageHeader, card, badge, listView, confirmAction, notify, failed, linkButton } from "../core/ui.js";

export function slugify(text) {
  return text.toLowerCase().normalize("NFKD").replace(/[\u0300-\u036f]/g, "")
    .replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 60) || "service";
}

function fields(service) {
  const s = service || {};
  return [
    { name: "name", label: "Name", required: true, value: s.name, maxlength: 200 },
    { name: "description", label: "Description", type: "textarea", value: s.description, rows: 3 },
    { name: "price_cents", label: "Price", type: "money", required: true, value: s.price_cents, min: 0, help: "In the business's currency." },
    { name: "duration_minutes", label: "Length in minutes", type: "number", required: true, value: s.duration_minutes ?? 60, min: 5, max: 1440, step: 5 },
    { name: "slug", label: "Web address name", value: s.slug, help: "Lowercase letters, digits and dashes; made from the name if left empty." },
    { name: "active", label: "Clients can book it", type: "checkbox", value: s.active ?? true },
  ];
}

async function showList(view) {
  const list = listView({
    filters: [{ name: "active", label: "Show", any: "All services", options: [{ value: "true", label: "Bookable" }, { value: "false", label: "Retired" }] }],
    columns: [
      { label: "Service", render: (s) => h("a", { href: `/app/services/${s.id}`, text: s.name }) },
      { label: "Price", render: (s) => money(s.price_cents) },
      { label: "Length", render: (s) => duration(s.duration_minutes) },
      { label: "Status", render: (s) => badge(s.active ? "active" : "retired") },
    ],
    caption: "Services",
    empty: "No services yet. Add the first one below.",
    load: (state) => get("/api/admin/services" + query({ active: state.active, limit: state.limit, offset: state.offset })),
  });
  const form = makeForm({
    fields: fields(null),
    submit: "Add service",
    codeFields: { slug_taken: "slug" },
    onSubmit: async (values, formEl) => {
      const body = { ...values, slug: values.slug || slugify(values.name), description: values.description || "" };
      const created = await post("/api/admin/services", body);
      notify(`“${created.name}” was added.`);
      formEl.reset();
      list.refresh();
    },
  });
  view.append(pageHeader("Services"), card(null, list), card("Add a service", form));
}

async function showOne(view, id) {
  const service = await get(`/api/admin/services/${id}`);
  const form = makeForm({
    fields: fields(service),
    submit: "Save changes",
    codeFields: { slug_taken: "slug" },
    onSubmit: async (values) => {
      const body = { ...values, slug: values.slug || slugify(values.name), description: values.description || "" };
      await patch(`/api/admin/services/${id}`, body);
      notify("Saved.");
    },
  });
  const retire = h("button", { type: "button", class: "danger", text: "Retire this service",
    onclick: async () => {
      const ok = await confirmAction(`Retire “${service.name}”?`, "Retire",
        { detail: "Clients will no longer be able to book it. Existing bookings stay." });
      if (!ok) return;
      try {
        await del(`/api/admin/services/${id}`);
        window.location.assign("/app/services");
      } catch (error) {
        failed(error);
      }
    } });
  view.append(pageHeader(service.name, linkButton("/app/services", "All services", true)),
    card("Details", form), card("Retire", h("p", { text: "A retired service stays on past bookings and invoices." }), retire));
}

export async function render(view, ctx) {
  clear(view);
  if (ctx.id) return showOne(view, ctx.id);
  return showList(view);
}
