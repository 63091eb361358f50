package flaggate.ownership_test

import data.flaggate.authz

write(roles, flag, state) := {
	"actor": {"id": "alice", "displayName": "Alice", "authMethod": "jwt", "roles": roles},
	"change": {
		"platform": "unleash",
		"action": "flag.enable",
		"flagKey": flag,
		"environment": "staging",
		"previousState": state,
		"request": {"method": "POST", "path": "/x", "bodySha256": "00"},
	},
	"approvals": [],
	"context": {"reason": "ticket FF-1", "ticket": "FF-1", "links": {}, "timeUtc": "2025-01-08T10:00:00Z"},
}

decide(req) := d if {
	d := authz.decision with input as req
}

test_owner_by_prefix_may_write if {
	decide(write(["qa", "team:search"], "search.ranking-v2", null)).allow
}

test_a_team_group_counts_as_the_team if {
	decide(write(["qa", "group:team:search"], "search.ranking-v2", null)).allow
	not decide(write(["qa", "group:team:payments"], "search.ranking-v2", null)).allow
}

test_other_team_by_prefix_is_refused if {
	d := decide(write(["qa", "team:payments"], "search.ranking-v2", null))
	not d.allow
	"search.ranking-v2 belongs to team search; alice is not on it" in d.reasons
}

test_no_team_at_all_is_refused_on_an_owned_flag if {
	not decide(write(["qa"], "billing.invoice-v2", null)).allow
}

test_a_tag_overrides_the_prefix if {
	state := {"tags": ["team:growth"]}
	decide(write(["qa", "team:growth"], "search.ranking-v2", state)).allow
	not decide(write(["qa", "team:search"], "search.ranking-v2", state)).allow
}

test_unleash_style_tag_objects if {
	state := {"tags": [{"type": "simple", "value": "x"}, {"type": "team", "value": "payments"}]}
	decide(write(["qa", "team:payments"], "checkout.new-flow", state)).allow
	not decide(write(["qa"], "checkout.new-flow", state)).allow
}

test_unowned_flags_follow_the_default_policy if {
	decide(write(["qa"], "checkout.new-flow", null)).allow
}

test_exempt_role_writes_anywhere if {
	decide(write(["flag_admin"], "payments.retry", null)).allow
}

test_reads_are_not_affected if {
	req := object.union(write(["qa"], "payments.retry", null), {"change": {"platform": "unleash", "action": "flag.read", "flagKey": "payments.retry"}})
	decide(req).allow
}
