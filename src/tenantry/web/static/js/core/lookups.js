// Names for the ids in a page of rows: people (by id, in one request per page) and
// services (the whole catalogue, once). What the caller may not see stays "—".

import { get, query } from "./api.js";

const people = new Map();
let services = null;

export async function loadPeople(ids) {
  const wanted = Array.from(new Set(ids.filter((id) => id && !people.has(id))));
  for (let i = 0; i < wanted.length; i += 200) {
    const chunk = wanted.slice(i, i + 200);
    try {
      const page = await get("/api/admin/users" + query({ id: chunk, limit: 200 }));
      page.items.forEach((u) => people.set(u.id, u));
    } catch (e) {
      // No team.read for this role: names stay unknown.
    }
    chunk.forEach((id) => { if (!people.has(id)) people.set(id, null); });
  }
}

// A listView loader for rows that name people: GET `path` with the list's filters
// (`filtersOf(state)`) and paging, then the names of the people `whoOf(row)` lists.
export function pageNamingPeople(path, filtersOf, whoOf) {
  return async (state) => {
    const page = await get(path + query({ ...filtersOf(state), limit: state.limit, offset: state.offset }));
    await loadPeople(page.items.flatMap(whoOf));
    return page;
  };
}

export function person(id) {
  if (!id) return null;
  return people.get(id) || null;
}

export function personLabel(id, fallback) {
  const p = person(id);
  if (p) return p.name || p.email;
  return id ? (fallback || "Former member") : "—";
}

export async function loadServices(portal) {
  if (services) return services;
  try {
    const page = await get((portal ? "/api/portal/services" : "/api/admin/services") + "?limit=200");
    services = page.items;
  } catch (e) {
    services = [];
  }
  return services;
}

export function serviceName(id) {
  const s = (services || []).find((x) => x.id === id);
  return s ? s.name : "Service";
}

export async function staffMembers() {
  const roles = ["staff", "admin", "owner"];
  const pages = await Promise.all(roles.map((role) => get("/api/admin/users" + query({ role, limit: 200 })).catch(() => ({ items: [] }))));
  const all = pages.flatMap((p) => p.items);
  all.forEach((u) => people.set(u.id, u));
  return all;
}

export async function clients(search) {
  const page = await get("/api/admin/users" + query({ role: "client", q: search, limit: 200 }));
  page.items.forEach((u) => people.set(u.id, u));
  return page.items;
}
