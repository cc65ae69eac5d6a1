// Times in the tenant's time zone, amounts in its currency, statuses as words.

const config = { timeZone: "UTC", currency: "USD", locale: undefined };

export function configure(options) {
  Object.assign(config, options);
}

export function timeZone() {
  return config.timeZone;
}

export function money(cents, currency) {
  if (cents === null || cents === undefined) return "—";
  return new Intl.NumberFormat(config.locale, {
    style: "currency",
    currency: currency || config.currency,
  }).format(cents / 100);
}

function fmt(value, options) {
  if (!value) return "—";
  const date = value instanceof Date ? value : new Date(value);
  if (isNaN(date.getTime())) return "—";
  return new Intl.DateTimeFormat(config.locale, { timeZone: config.timeZone, ...options }).format(date);
}

export const dateTime = (v) => fmt(v, { weekday: "short", day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit" });
export const date = (v) => fmt(v, { weekday: "short", day: "numeric", month: "short", year: "numeric" });
export const shortDate = (v) => fmt(v, { day: "numeric", month: "short" });
export const time = (v) => fmt(v, { hour: "2-digit", minute: "2-digit" });
export const shortDay = (v) => fmt(v, { weekday: "short", day: "numeric", month: "short" });
export const dayName = (v) => fmt(v, { weekday: "long", day: "numeric", month: "long" });

// A calendar day ("2026-12-03") as a date, without moving it through a time zone.
export function plainDate(isoDay) {
  if (!isoDay) return "—";
  const [y, m, d] = isoDay.split("-").map(Number);
  return new Intl.DateTimeFormat(config.locale, { timeZone: "UTC", weekday: "short", day: "numeric", month: "short", year: "numeric" })
    .format(new Date(Date.UTC(y, m - 1, d)));
}

// The tenant's calendar day of an instant, as "YYYY-MM-DD".
export function localDay(value) {
  const date = value instanceof Date ? value : new Date(value);
  const parts = new Intl.DateTimeFormat("en-CA", { timeZone: config.timeZone, year: "numeric", month: "2-digit", day: "2-digit" }).formatToParts(date);
  const get = (type) => parts.find((p) => p.type === type).value;
  return `${get("year")}-${get("month")}-${get("day")}`;
}

export function addDays(isoDay, days) {
  const [y, m, d] = isoDay.split("-").map(Number);
  const next = new Date(Date.UTC(y, m - 1, d + days));
  return next.toISOString().slice(0, 10);
}

export function today() {
  return localDay(new Date());
}

// An instant for a wall-clock time on a tenant day ("2026-12-03", "14:30"): the UTC
// offset is found by asking Intl what that zone's clock shows.
export function zonedInstant(isoDay, clock) {
  const [y, m, d] = isoDay.split("-").map(Number);
  const [hh, mm] = clock.split(":").map(Number);
  let guess = Date.UTC(y, m - 1, d, hh, mm);
  for (let i = 0; i < 2; i += 1) {
    const shown = new Intl.DateTimeFormat("en-US", { timeZone: config.timeZone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit" }).formatToParts(new Date(guess));
    const get = (type) => Number(shown.find((p) => p.type === type).value);
    const asUtc = Date.UTC(get("year"), get("month") - 1, get("day"), get("hour") % 24, get("minute"));
    guess += Date.UTC(y, m - 1, d, hh, mm) - asUtc;
  }
  return new Date(guess);
}

const WORDS = {
  pending: "Waiting for confirmation",
  confirmed: "Confirmed",
  cancelled: "Cancelled",
  completed: "Completed",
  submitted: "New",
  triaged: "Triaged",
  assigned: "Assigned",
  in_progress: "In progress",
  on_hold: "On hold",
  resolved: "Resolved",
  closed: "Closed",
  open: "Open",
  done: "Done",
  draft: "Draft",
  sent: "Sent",
  paid: "Paid",
  void: "Void",
  approved: "Approved",
  rejected: "Rejected",
  published: "Published",
  scheduled: "Scheduled",
  failed: "Failed",
  active: "Active",
  removed: "Removed",
  invited: "Invited",
  low: "Low",
  normal: "Normal",
  high: "High",
  urgent: "Urgent",
  owner: "Owner",
  admin: "Admin",
  staff: "Staff",
  client: "Client",
};

const KIND_WORDS = {
  reminder: { pending: "Scheduled" },
  expense: { submitted: "Awaiting approval", reimbursed: "Reimbursed" },
  scan: { pending: "Being checked", clean: "Checked", infected: "Blocked: virus found" },
};

export function words(value, kind) {
  if (value === null || value === undefined || value === "") return "—";
  const special = KIND_WORDS[kind] && KIND_WORDS[kind][value];
  return special || WORDS[value] || String(value).replace(/_/g, " ").replace(/^./, (c) => c.toUpperCase());
}

export function duration(minutes) {
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  const rest = minutes % 60;
  return rest ? `${hours} h ${rest} min` : `${hours} h`;
}

export function personName(person) {
  if (!person) return "—";
  return person.name || person.email;
}

// "HH:MM" (24-hour) of an instant on the tenant's clock, for <input type="time">.
export function clock(value) {
  const date = value instanceof Date ? value : new Date(value);
  const parts = new Intl.DateTimeFormat("en-GB", { timeZone: config.timeZone, hour: "2-digit", minute: "2-digit", hourCycle: "h23" }).formatToParts(date);
  const get = (type) => parts.find((p) => p.type === type).value;
  return `${get("hour")}:${get("minute")}`;
}
