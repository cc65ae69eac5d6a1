// A tenant's public page on its own host: name, services with prices, published news,
// a contact form and the way in to booking. All of it from the public API.

import { get, post } from "../core/api.js";
import { h, $, clear } from "../core/dom.js";
import { configure, money, duration, date } from "../core/format.js";
import { makeForm } from "../core/forms.js";

export async function start() {
  let tenant = null;
  try {
    tenant = await get("/api/public/tenant");
    configure({ timeZone: tenant.timezone, currency: tenant.currency });
    $("#public-name").textContent = tenant.name;
    $("#public-title").textContent = "Welcome to " + tenant.name;
    document.title = tenant.name;
  } catch (e) {
    $("#public-title").textContent = "Welcome";
  }
  const services = $("#services-list");
  try {
    const page = await get("/api/public/services?limit=100");
    clear(services);
    if (!page.items.length) services.appendChild(h("p", { class: "muted", text: "Services will be listed here soon." }));
    services.appendChild(h("ul", { class: "tiles" }, page.items.map((s) => h("li", { class: "tile" },
      h("h3", { text: s.name }),
      s.description ? h("p", { text: s.description }) : null,
      h("p", { class: "muted", text: `${money(s.price_cents)} · ${duration(s.duration_minutes)}` }),
      h("a", { href: "/login?next=" + encodeURIComponent("/app/book?service=" + s.id), text: "Book " + s.name })))));
  } catch (e) {
    clear(services).appendChild(h("p", { class: "muted", text: "The services could not be loaded." }));
  }
  const posts = $("#posts-list");
  try {
    const page = await get("/api/public/posts?limit=5");
    clear(posts);
    if (!page.items.length) posts.appendChild(h("p", { class: "muted", text: "No news yet." }));
    page.items.forEach((p) => posts.appendChild(h("article", { class: "post" },
      h("h3", { text: p.title }), h("p", { class: "muted small", text: date(p.published_at) }),
      h("p", { class: "post-body", text: p.body }))));
  } catch (e) {
    clear(posts).appendChild(h("p", { class: "muted", text: "The news could not be loaded." }));
  }
  const holder = $("#contact-form");
  const form = makeForm({
    fields: [
      { name: "name", label: "Your name", required: true, autocomplete: "name", maxlength: 200 },
      { name: "email", label: "Your email", type: "email", required: true, autocomplete: "email" },
      { name: "message", label: "Message", type: "textarea", required: true, maxlength: 5000 },
    ],
    submit: "Send message",
    onSubmit: async (values) => {
      await post("/api/public/contact", values);
      clear(holder).appendChild(h("p", { class: "notice", role: "status", id: "contact-sent",
        text: "Thank you — your message was sent. We will reply by email." }));
    },
  });
  holder.appendChild(form);
}
