package flaggate.freeze_test

import data.flaggate.authz

write(env, at, ticket) := {
	"actor": {"id": "rita", "displayName": "Rita", "authMethod": "jwt", "roles": ["release_engineer"]},
	"change": {"platform": "unleash", "action": "flag.enable", "flagKey": "search.ranking-v2", "environment": env, "request": {"method": "POST", "path": "/x", "bodySha256": "00"}},
	"approvals": [],
	"context": {"reason": "rollout", "ticket": ticket, "links": {}, "timeUtc": at},
}

decide(req) := d if {
	d := authz.decision with input as req
}

test_before_the_freeze_is_allowed if {
	decide(write("production", "2025-12-19T16:59:59.999Z", "FF-1")).allow
}

test_from_is_inclusive if {
	d := decide(write("production", "2025-12-19T17:00:00Z", "FF-1"))
	not d.allow
	"production writes are frozen (year-end freeze, 2025-12-19T17:00:00Z to 2026-01-05T08:00:00Z)" in d.reasons
}

test_to_is_exclusive if {
	decide(write("production", "2026-01-05T08:00:00Z", "FF-1")).allow
}

test_other_environment_classes_are_not_frozen if {
	decide(write("staging", "2025-12-24T10:00:00Z", "FF-1")).allow
}

test_an_incident_ticket_passes_and_says_so if {
	d := decide(write("production", "2025-12-24T10:00:00Z", "INC-42"))
	d.allow
	"year-end freeze freeze exception by ticket INC-42" in d.reasons
}

test_a_malformed_time_counts_as_frozen if {
	not decide(write("production", "24/12/2025 10:00", "FF-1")).allow
}
