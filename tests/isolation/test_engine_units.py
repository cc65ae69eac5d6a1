"""The engine's pure parts: resource naming, harvesting, markers, values, exemptions."""

from __future__ import annotations

import re
import uuid

from tenantry.probe.bank import Bank, canonical, owned_ids, resource_of_field
from tenantry.probe.exemptions import Exemption, exempt_reason, skip_reason
from tenantry.probe.http import Sent
from tenantry.probe.oracle import Markers, reached_handler, same_outcome
from tenantry.probe.values import Builder, Style, body_slots, fit_string, set_in


def sent(body=None, text="", status=200, code=None, echo="", headers=None) -> Sent:  # type: ignore[no-untyped-def]
    return Sent("GET", "/x", status, code, body, text, headers or {}, echo)


def test_names_of_resources_are_singular_and_people_are_users():
    assert canonical("service-requests") == "service_request"
    assert canonical("categories") == "category"
    assert resource_of_field("service_id") == "service"
    assert resource_of_field("assignee_id") == "user"
    assert resource_of_field("client_ids") == "user"
    assert resource_of_field("title") is None


def test_harvest_files_ids_under_their_resource_and_picks_related_names():
    b = Bank()
    booking, service, client, msg = (str(uuid.uuid4()) for _ in range(4))
    b.harvest({"items": [{"id": booking, "service_id": service, "client_id": client}]}, "booking")
    b.harvest([{"id": msg}], "chat_message")
    assert b.pick("booking") == [booking]
    assert b.pick("service") == [service]
    assert b.pick("user") == [client]
    assert b.pick("message") == [msg]  # "message" ~ "chat_message"
    assert booking in b.object_ids and service not in b.object_ids


def test_owned_ids_are_the_records_that_point_at_the_person_not_what_they_contain():
    me, mine, shared = (str(uuid.uuid4()) for _ in range(3))
    data = [{"id": mine, "client_id": me, "service": {"id": shared, "name": "Cut"}}]
    assert owned_ids(data, me) == {mine}


def test_markers_match_exact_values_and_ignore_what_the_probe_sent():
    theirs = str(uuid.uuid4())
    m = Markers("B", uuids={theirs}, strings={"Globex Facilities"})
    assert m.found_in(sent({"items": [{"id": theirs}]})) == [theirs]
    assert m.found_in(sent({"name": "Globex Facilities"})) == ["Globex Facilities"]
    assert m.found_in(sent({"name": "Globex Facilities Inc"})) == []  # exact values only
    assert m.found_in(sent({"error": {"message": f"no {theirs}"}}, echo=f"/x/{theirs}")) == []
    assert m.found_in(sent(None, text=f"<p>{theirs}</p>")) == [theirs]


def test_a_record_of_b_read_by_its_id_is_b_s_data_though_the_probe_named_the_id():
    theirs = str(uuid.uuid4())
    m = Markers("B", uuids={theirs})
    asked = f"/api/admin/services/{theirs}"
    # B's service from the same demo catalogue: nothing in it names B but its id.
    record = {"id": theirs, "slug": "carpet-shampoo", "name": "Carpet shampoo"}
    assert m.found_in(sent(record, echo=asked)) == [theirs]
    # The same id only echoed: in an error, or as a field of something else.
    assert m.found_in(sent({"error": {"id": theirs}}, status=404, echo=asked)) == []
    assert m.found_in(sent({"id": theirs}, status=404, echo=asked)) == []
    assert m.found_in(sent({"id": "mine", "service_id": theirs}, echo=asked)) == []


def test_outcomes_compare_status_and_code_and_rate_limits_are_inconclusive():
    assert same_outcome(sent(status=404, code="not_found"), sent(status=404, code="not_found"))
    assert not same_outcome(sent(status=403, code="forbidden"), sent(status=404, code="not_found"))
    assert same_outcome(sent(status=429), sent(status=404))
    assert not reached_handler(sent(status=403, code="role_required"))
    assert reached_handler(sent(status=403, code="invoice_locked"))
    assert reached_handler(sent(status=404, code="not_found"))
    assert not reached_handler(sent(status=422))


def test_bodies_fit_their_schema_and_expose_id_slots():
    schema = {
        "type": "object",
        "required": ["service_id", "starts_at", "slug"],
        "properties": {
            "service_id": {"type": "string", "format": "uuid"},
            "starts_at": {"type": "string", "format": "date-time"},
            "ends_at": {"type": "string", "format": "date-time"},
            "slug": {"type": "string", "pattern": "^[a-z0-9-]+$", "maxLength": 20},
            "lines": {"type": "array", "items": {"type": "object", "properties": {
                "invoice_id": {"type": "string", "format": "uuid"}}}},
        },
    }  # fmt: skip
    mine = str(uuid.uuid4())
    builder = Builder(lambda s: s or {}, lambda res, fld: mine if res == "service" else None)
    body = builder.value(schema)
    assert body["service_id"] == mine
    assert body["ends_at"] > body["starts_at"]
    assert re.fullmatch("[a-z0-9-]+", body["slug"]) and len(body["slug"]) <= 20
    slots = {s.label for s in body_slots(schema, body, lambda s: s or {})}
    assert slots == {"body:service_id", "body:lines.0.invoice_id"}
    minimal = Builder(lambda s: s or {}, lambda r, f: None, Style(full=False)).value(schema)
    assert set(minimal) == {"service_id", "starts_at", "slug"}
    assert set_in(body, ("lines", 0, "invoice_id"), "x")["lines"][0]["invoice_id"] == "x"


def test_strings_honour_patterns_the_candidates_do_not_fit():
    assert re.fullmatch(r"INV-\d{4}", fit_string(["probe"], {"pattern": r"^INV-\d{4}$"}))


def test_exemptions_are_patterns_with_reasons():
    assert Exemption("* /api/payments/**", "r").matches("POST /api/payments/webhook/stripe")
    assert not Exemption("GET /api/*", "r").matches("GET /api/a/b")
    assert skip_reason("POST /api/auth/logout-all")
    assert exempt_reason("POST /api/whatever", "system")
    assert exempt_reason("GET /api/admin/bookings", "tenant") is None
