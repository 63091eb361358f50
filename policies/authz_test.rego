package flaggate.authz_test

import data.flaggate.authz

# A write request; tests override the parts they exercise with object.union.
write(roles, action, flag, env) := {
	"actor": {"id": "alice", "displayName": "Alice", "authMethod": "jwt", "roles": roles},
	"change": {
		"platform": "unleash",
		"action": action,
		"flagKey": flag,
		"environment": env,
		"request": {"method": "POST", "path": "/x", "bodySha256": "00"},
	},
	"approvals": [],
	"context": {"reason": "ticket FF-1", "ticket": "FF-1", "links": {}, "timeUtc": "2025-01-08T10:00:00Z"},
}

access(roles, action) := {
	"actor": {"id": "alice", "displayName": "Alice", "authMethod": "jwt", "roles": roles},
	"change": {"platform": "unleash", "action": action},
	"approvals": [],
	"context": {"links": {}, "timeUtc": "2025-01-08T10:00:00Z"},
}

approval(id, roles) := {"approverId": id, "roles": roles, "approvedAt": "2025-01-01T00:00:00Z", "authMethod": "jwt"}

service_approval(id, roles) := object.union(approval(id, roles), {"authMethod": "client-credentials"})

# The shipped data with `ids` listed as service accounts that may approve.
listing(ids) := {"critical_approval": object.union(data.flaggate.config.critical_approval, {"service_account_approvers": ids})}

critical_prod(approvals) := object.union(write(["release_engineer"], "flag.enable", "payments.checkout", "production"), {"approvals": approvals})

decide(req) := d if {
	d := authz.decision with input as req
}

# --- flag_admin: writes outside production

test_flag_admin_writes_in_development if {
	d := decide(write(["flag_admin"], "flag.create", "search.v2", "development"))
	d == {"allow": true, "reasons": ["flag_admin may write in development"], "required_approvals": 0, "approver_roles": [], "hold_for_approvals": false, "alerts": [], "break_glass": false}
}

test_flag_admin_writes_in_staging if {
	decide(write(["flag_admin"], "strategy.update", "search.v2", "stage")).allow
}

test_flag_admin_denied_in_production if {
	d := decide(write(["flag_admin"], "flag.enable", "search.v2", "production"))
	not d.allow
	not d.hold_for_approvals
	d.reasons == ["role flag_admin may not write in production"]
}

# --- release_engineer: writes anywhere, production with a reason

test_release_engineer_writes_in_production if {
	d := decide(write(["release_engineer"], "flag.disable", "search.v2", "prod"))
	d.allow
	d.reasons == ["release_engineer may write in production"]
}

test_release_engineer_writes_in_development if {
	decide(write(["release_engineer"], "flag.delete", "search.v2", "dev")).allow
}

test_production_write_denied_without_reason if {
	req := json.remove(write(["release_engineer"], "flag.enable", "search.v2", "production"), ["context/reason"])
	d := decide(req)
	not d.allow
	d.reasons == ["production writes require a reason (X-Flaggate-Reason)"]
}

test_production_write_denied_with_blank_reason if {
	req := object.union(write(["release_engineer"], "flag.enable", "search.v2", "live"), {"context": {"reason": "  ", "links": {}, "timeUtc": "t"}})
	not decide(req).allow
}

test_staging_write_needs_no_reason if {
	req := json.remove(write(["qa"], "flag.enable", "search.v2", "staging"), ["context/reason"])
	decide(req).allow
}

# --- qa and product: staging only

test_qa_writes_in_staging if {
	decide(write(["qa"], "flag.update", "search.v2", "staging")).allow
}

test_qa_denied_in_production if {
	d := decide(write(["qa"], "flag.enable", "search.v2", "production"))
	not d.allow
	d.reasons == ["role qa may not write in production"]
}

test_qa_denied_in_development if {
	d := decide(write(["qa"], "flag.enable", "search.v2", "test"))
	d.reasons == ["role qa may not write in development"]
}

test_product_writes_in_staging if {
	decide(write(["product"], "strategy.create", "search.v2", "STAGING")).allow
}

test_product_denied_in_production if {
	not decide(write(["product"], "flag.revive", "search.v2", "production")).allow
}

# --- auditor: never writes

test_auditor_denied_write_in_staging if {
	d := decide(write(["auditor"], "flag.enable", "search.v2", "staging"))
	not d.allow
	d.reasons == ["role auditor may not write in staging"]
}

test_auditor_denied_write_in_development if {
	not decide(write(["auditor"], "flag.archive", "search.v2", "development")).allow
}

# --- role mapping and unknown roles

test_mapped_group_name_grants_role if {
	d := decide(write(["flaggate-release"], "flag.enable", "search.v2", "production"))
	d.reasons == ["release_engineer may write in production"]
}

test_any_granting_role_suffices if {
	decide(write(["qa", "engineering", "release_engineer"], "flag.enable", "search.v2", "production")).allow
}

test_unknown_role_denied if {
	d := decide(write(["superuser"], "flag.enable", "search.v2", "staging"))
	not d.allow
	d.reasons == ["unknown role 'superuser'"]
}

test_no_roles_denied if {
	d := decide(write([], "flag.enable", "search.v2", "staging"))
	d.reasons == ["actor holds no role"]
}

# --- which environments a change can alter (change.environments)

altering(roles, action, flag, envs) := json.remove(object.union(write(roles, action, flag, "*"), {"change": {"environments": envs}}), ["change/environment"])

no_context(req) := object.union(json.remove(req, ["context/reason", "context/ticket"]), {})

test_flag_admin_may_create_a_flag_that_alters_no_environment if {
	d := decide(no_context(altering(["flag_admin"], "flag.create", "search.v2", [])))
	d.allow
	d.reasons == ["flag_admin may write in no environment"]
}

test_a_role_that_writes_nowhere_may_not_create if {
	d := decide(altering(["auditor"], "flag.create", "search.v2", []))
	not d.allow
	d.reasons == ["role auditor may not write"]
}

test_every_environment_includes_production if {
	d := decide(altering(["flag_admin"], "flag.archive", "search.v2", ["*"]))
	not d.allow
	d.reasons == ["role flag_admin may not write in production"]
}

test_every_environment_needs_production_context if {
	d := decide(no_context(altering(["release_engineer"], "flag.archive", "search.v2", ["*"])))
	not d.allow
	d.reasons == ["production writes require a reason (X-Flaggate-Reason)", "production writes require a ticket (X-Flaggate-Ticket)"]
}

test_every_environment_allowed_with_context if {
	d := decide(altering(["release_engineer"], "flag.archive", "search.v2", ["*"]))
	d.allow
	d.reasons == ["release_engineer may write in every environment"]
}

test_listed_environments_need_each_class if {
	d := decide(altering(["flag_admin"], "variants.update", "search.v2", ["development", "production"]))
	not d.allow
	d.reasons == ["role flag_admin may not write in production"]
	e := decide(no_context(altering(["flag_admin"], "variants.update", "search.v2", ["development", "Stage"])))
	e.allow
}

test_critical_flag_altering_no_environment_needs_no_approval if {
	d := decide(no_context(altering(["flag_admin"], "link.create", "payments.checkout", [])))
	d.allow
	d.required_approvals == 0
}

test_critical_flag_altering_every_environment_is_held if {
	d := decide(altering(["release_engineer"], "flag.archive", "payments.checkout", ["*"]))
	not d.allow
	d.hold_for_approvals
}

test_blank_or_non_string_environment_in_the_list_denied if {
	d := decide(altering(["release_engineer"], "flag.enable", "search.v2", ["development", " "]))
	d.reasons == ["a write must name an environment"]
	e := decide(altering(["release_engineer"], "flag.enable", "search.v2", [3]))
	e.reasons == ["a write must name an environment"]
}

# --- environments

test_unknown_environment_is_production if {
	d := decide(write(["flag_admin"], "flag.enable", "search.v2", "eu-west-canary"))
	d.reasons == ["role flag_admin may not write in production"]
}

test_write_without_environment_denied if {
	req := write(["release_engineer"], "flag.create", "search.v2", "x")
	d := decide(json.remove(req, ["change/environment"]))
	not d.allow
	d.reasons == ["a write must name an environment"]
}

test_write_with_blank_environment_denied if {
	d := decide(write(["release_engineer"], "flag.create", "search.v2", " "))
	d.reasons == ["a write must name an environment"]
}

# --- actions

test_unknown_action_denied if {
	d := decide(write(["release_engineer"], "flag.explode", "search.v2", "staging"))
	not d.allow
	d.reasons == ["unknown action 'flag.explode'"]
}

test_missing_action_denied if {
	d := decide(json.remove(access(["auditor"], "x"), ["change/action"]))
	d.reasons == ["request names no action"]
}

test_every_role_reads_flags if {
	every role in ["flag_admin", "release_engineer", "qa", "product", "auditor"] {
		d := decide(access([role], "flag.read"))
		d.allow
		d.reasons == [sprintf("%s may read flags", [role])]
	}
}

test_unknown_role_may_not_read if {
	not decide(access(["visitor"], "flag.read")).allow
}

test_auditor_reads_audit_log if {
	d := decide(access(["auditor"], "audit.read"))
	d == {"allow": true, "reasons": ["auditor may read the audit log"], "required_approvals": 0, "approver_roles": [], "hold_for_approvals": false, "alerts": [], "break_glass": false}
}

test_auditor_exports_audit_log if {
	decide(access(["flaggate-auditor"], "audit.export")).allow
}

test_only_auditor_reads_audit if {
	every role in ["flag_admin", "release_engineer", "qa", "product"] {
		d := decide(access([role], "audit.read"))
		not d.allow
		d.reasons == [sprintf("role %s may not read the audit log", [role])]
	}
}

test_release_engineer_may_not_export if {
	d := decide(access(["release_engineer"], "audit.export"))
	d.reasons == ["role release_engineer may not export the audit log"]
}

# --- critical flags

test_critical_flag_in_production_needs_approval if {
	d := decide(critical_prod([]))
	not d.allow
	d.hold_for_approvals
	d.alerts == []
	d.required_approvals == 1
	d.approver_roles == ["release_engineer"]
	d.reasons == ["approval required: payments.checkout in production needs 1 approval(s) by release_engineer other than the requester, 0 present"]
}

# A platform that keys changes by id: the name read from the platform makes the flag critical.
critical_by_id(name) := object.union(
	write(["release_engineer"], "identity_override.create", "feature:12", "cixtMCKvBWcWy75rGMTNRL"),
	{"change": {"platform": "flagsmith", "previousState": {"exists": true, "name": name}}},
)

test_critical_flag_named_in_previous_state_needs_approval if {
	d := decide(critical_by_id("Payments.Checkout"))
	not d.allow
	d.hold_for_approvals
	d.required_approvals == 1
}

test_flag_named_in_previous_state_not_critical_is_allowed if {
	decide(critical_by_id("dark_mode")).allow
}

# The name is matched on its own only when it is not the key: the same flag, the same verdict.
# A version scheduled to go live later replaces the change then: held, whatever the flag, and says when.
scheduled_at(times) := object.union(
	write(["release_engineer"], "flag.update", "feature:12", "cixtMCKvBWcWy75rGMTNRL"),
	{"change": {"platform": "flagsmith", "previousState": {"exists": true, "name": "dark_mode", "scheduled": [{"uuid": "u", "live_from": t, "description": null} | some t in times]}}},
)

test_scheduled_version_holds_the_change if {
	d := decide(scheduled_at(["2099-01-01T00:00:00Z"]))
	not d.allow
	d.hold_for_approvals
	d.required_approvals == 1
	"a version scheduled on flagsmith for 2099-01-01T00:00:00Z replaces this change when it goes live" in d.reasons
	decide(object.union(scheduled_at(["2099-01-01T00:00:00Z"]), {"approvals": [approval("bob", ["release_engineer"])]})).allow
}

test_scheduled_entry_without_a_time_is_not_read_as_one if {
	decide(object.union(scheduled_at([]), {"change": {"previousState": {"scheduled": [{"uuid": "u"}]}}})).allow
}

test_no_scheduled_version_needs_no_approval if {
	decide(scheduled_at([])).allow
	decide(critical_by_id("dark_mode")).allow
}

# LaunchDarkly's ignoreConflicts overrides its own pending scheduled changes and approval requests.
ignoring_conflicts(ignore) := object.union(
	write(["release_engineer"], "flag.update", "dark_mode", "test"),
	{"change": {"platform": "launchdarkly", "newState": {"instructions": [{"kind": "turnFlagOn"}], "ignoreConflicts": ignore}}},
)

test_ignoring_launchdarkly_conflicts_holds_the_change if {
	d := decide(ignoring_conflicts(true))
	d.hold_for_approvals
	"the change asks launchdarkly to apply it even where it makes a pending scheduled change or approval request fail (ignoreConflicts)" in d.reasons
	decide(object.union(ignoring_conflicts(true), {"approvals": [approval("bob", ["release_engineer"])]})).allow
	decide(ignoring_conflicts(false)).allow
}

test_critical_flag_named_as_its_key if {
	d := decide(object.union(critical_prod([]), {"change": {"previousState": {"exists": true, "name": "payments.checkout"}}}))
	d.hold_for_approvals
	decide(object.union(write(["release_engineer"], "flag.enable", "dark_mode", "production"), {"change": {"previousState": {"name": "dark_mode"}}, "context": {"reason": "r", "ticket": "T-1"}})).allow
}

test_critical_flag_named_beside_a_key_not_a_string if {
	d := decide(json.patch(critical_by_id("payments.checkout"), [{"op": "replace", "path": "/change/flagKey", "value": 12}]))
	not d.allow
	d.hold_for_approvals
}

test_critical_flag_approved_by_other_release_engineer if {
	d := decide(critical_prod([approval("bob", ["release_engineer"])]))
	d.allow
	not d.hold_for_approvals
	d.required_approvals == 1
	d.reasons == ["approved by 1 of 1 required release_engineer", "release_engineer may write in production"]
}

test_critical_flag_approval_by_mapped_group_counts if {
	decide(critical_prod([approval("bob", ["flaggate-release"])])).allow
}

test_self_approval_not_counted if {
	d := decide(critical_prod([approval("alice", ["release_engineer"])]))
	not d.allow
	d.hold_for_approvals
	d.required_approvals == 1
}

test_self_approval_in_another_case_not_counted if {
	not decide(critical_prod([approval(" Alice", ["release_engineer"])])).allow
}

test_same_approver_in_another_case_counted_once if {
	two := {"critical_approval": {"environment_classes": ["production"], "required_approvals": 2, "approver_roles": ["release_engineer"]}}
	req := critical_prod([approval("bob", ["release_engineer"]), approval("BOB", ["release_engineer"])])
	not authz.decision.allow with input as req with data.flaggate.config as object.union(data.flaggate.config, two)
}

test_approval_by_unlisted_role_not_counted if {
	not decide(critical_prod([approval("bob", ["qa", "auditor"])])).allow
}

test_blank_approver_not_counted if {
	not decide(critical_prod([approval(" ", ["release_engineer"])])).allow
}

test_duplicate_approver_counted_once if {
	two := {"critical_approval": {"environment_classes": ["production"], "required_approvals": 2, "approver_roles": ["release_engineer"]}}
	req := critical_prod([approval("bob", ["release_engineer"]), approval("bob", ["release_engineer"])])
	d := authz.decision with input as req with data.flaggate.config as object.union(data.flaggate.config, two)
	not d.allow
	d.required_approvals == 2
	d.reasons == ["approval required: payments.checkout in production needs 2 approval(s) by release_engineer other than the requester, 1 present"]
}

test_two_distinct_approvers_meet_two_required if {
	two := {"critical_approval": {"environment_classes": ["production"], "required_approvals": 2, "approver_roles": ["release_engineer"]}}
	req := critical_prod([approval("bob", ["release_engineer"]), approval("carol", ["release_engineer"])])
	d := authz.decision with input as req with data.flaggate.config as object.union(data.flaggate.config, two)
	d.allow
}

test_critical_flag_outside_production_needs_no_approval if {
	d := decide(write(["flag_admin"], "flag.enable", "billing.invoices", "staging"))
	d.allow
	d.required_approvals == 0
	d.approver_roles == []
}

test_critical_patterns_match_nested_keys if {
	d := decide(write(["release_engineer"], "flag.update", "model.ranker.v3", "production"))
	d.required_approvals == 1
}

test_critical_patterns_ignore_case if {
	d := decide(write(["release_engineer"], "flag.update", "Payments.Checkout", "production"))
	not d.allow
	d.required_approvals == 1
}

test_non_critical_flag_needs_no_approval if {
	d := decide(write(["release_engineer"], "flag.update", "paymentsx", "production"))
	d.allow
	d.required_approvals == 0
}

# A denial that also lacks approvals is refused, not held: no number of approvals could allow it.
test_approval_reason_alongside_role_denial if {
	d := decide(write(["qa"], "flag.enable", "payments.checkout", "production"))
	not d.allow
	not d.hold_for_approvals
	d.required_approvals == 1
	count(d.reasons) == 2
}

test_missing_ticket_and_approval_is_refused_not_held if {
	req := json.remove(critical_prod([]), ["context/ticket"])
	d := decide(req)
	not d.allow
	not d.hold_for_approvals
	d.required_approvals == 1
	d.reasons == [
		"approval required: payments.checkout in production needs 1 approval(s) by release_engineer other than the requester, 0 present",
		"production writes require a ticket (X-Flaggate-Ticket)",
	]
}

# --- robustness

test_empty_input_denied_with_reasons if {
	d := authz.decision with input as {}
	not d.allow
	not d.hold_for_approvals
	d.alerts == []
	d.reasons == ["actor holds no role", "request names no action"]
}

test_non_object_input_denied if {
	d := authz.decision with input as "nope"
	not d.allow
	not d.hold_for_approvals
	count(d.reasons) > 0
}

test_unmapped_names_beside_a_known_role_are_reported_as_unknown if {
	names := authz.unknown_role_names with input as write(["qa", "engineering"], "flag.enable", "search.v2", "staging")
	names == {"engineering"}
}

test_action_of_unhandled_kind_denied_by_fallback if {
	d := authz.decision with input as access(["auditor"], "flag.read")
		with data.flaggate.config.actions as {"flag.read": {"kind": "other"}}
	not d.allow
	not d.hold_for_approvals
	d.reasons == ["no role grants this request"]
}

# --- tickets in production

test_production_write_denied_without_ticket if {
	req := json.remove(write(["release_engineer"], "flag.enable", "search.v2", "production"), ["context/ticket"])
	d := decide(req)
	not d.allow
	d.reasons == ["production writes require a ticket (X-Flaggate-Ticket)"]
}

test_staging_write_needs_no_ticket if {
	req := json.remove(write(["qa"], "flag.enable", "search.v2", "staging"), ["context/ticket"])
	decide(req).allow
}

# --- business hours (Mon-Fri 09:00-18:00 UTC by default)

at(req, t) := object.union(req, {"context": {"timeUtc": t}})

test_weekday_is_computed if {
	authz.weekday(2025, 1, 8) == 3
	authz.weekday(2025, 3, 1) == 6
	authz.weekday(2024, 2, 29) == 4
	authz.weekday(2000, 1, 2) == 0
}

test_critical_change_in_hours_raises_no_alert if {
	d := decide(at(critical_prod([approval("bob", ["release_engineer"])]), "2025-01-08T17:59:59.000Z"))
	d.allow
	d.alerts == []
	d.reasons == ["approved by 1 of 1 required release_engineer", "release_engineer may write in production"]
}

test_critical_change_at_night_allowed_with_alert if {
	d := decide(at(critical_prod([approval("bob", ["release_engineer"])]), "2025-01-08T18:00:00.000Z"))
	d.allow
	not d.hold_for_approvals
	d.alerts == ["out-of-hours change to critical flag payments.checkout in production"]
	d.reasons == [
		"alert: out-of-hours change to critical flag payments.checkout in production",
		"approved by 1 of 1 required release_engineer",
		"release_engineer may write in production",
	]
}

test_critical_change_on_saturday_held_with_alert if {
	d := decide(at(critical_prod([]), "2025-03-01T10:00:00Z"))
	not d.allow
	d.hold_for_approvals
	d.alerts == ["out-of-hours change to critical flag payments.checkout in production"]
	d.reasons == [
		"alert: out-of-hours change to critical flag payments.checkout in production",
		"approval required: payments.checkout in production needs 1 approval(s) by release_engineer other than the requester, 0 present",
	]
}

test_critical_change_out_of_hours_denied_when_data_says_so if {
	deny := {"change_window": object.union(data.flaggate.config.change_window, {"outside_hours": "deny"})}
	req := at(critical_prod([approval("bob", ["release_engineer"])]), "2025-01-11T12:00:00Z")
	d := authz.decision with input as req with data.flaggate.config as object.union(data.flaggate.config, deny)
	not d.allow
	not d.hold_for_approvals
	d.alerts == ["out-of-hours change to critical flag payments.checkout in production"]
	d.reasons == [
		"alert: out-of-hours change to critical flag payments.checkout in production",
		"payments.checkout is outside business hours: critical changes in production are not allowed now",
	]
}

# A batch's key is no critical flag's; a critical member altered in production out of hours is watched all the same.
test_batch_with_a_critical_member_out_of_hours_alerts_and_is_refused_when_data_says_so if {
	deny := {"change_window": object.union(data.flaggate.config.change_window, {"outside_hours": "deny"})}
	batch := over_flags(["release_engineer"], "flag.enable", "aaa.x,payments.a", [member("aaa.x", ["production"]), member("payments.a", ["production"])])
	req := at(object.union(batch, {"approvals": [approval("bob", ["release_engineer"])]}), "2025-01-11T03:00:00Z")
	allowed := authz.decision with input as req
	allowed.allow
	allowed.alerts == ["out-of-hours change to critical flag aaa.x,payments.a in production"]
	refused := authz.decision with input as req with data.flaggate.config as object.union(data.flaggate.config, deny)
	not refused.allow
	segment := at(object.union(over_flags(["release_engineer"], "segment.update", "segment:7", [member("payments.a", ["production"])]), {"approvals": [approval("bob", ["release_engineer"])]}), "2025-01-11T03:00:00Z")
	segment_refused := authz.decision with input as segment with data.flaggate.config as object.union(data.flaggate.config, deny)
	not segment_refused.allow
}

test_out_of_hours_denial_without_approvals_is_refused_not_held if {
	deny := {"change_window": object.union(data.flaggate.config.change_window, {"outside_hours": "deny"})}
	req := at(critical_prod([]), "2025-01-11T12:00:00Z")
	d := authz.decision with input as req with data.flaggate.config as object.union(data.flaggate.config, deny)
	not d.allow
	not d.hold_for_approvals
	d.required_approvals == 1
	count(d.alerts) == 1
}

# Reasons embed the flag key, so a key worded like an alert once made a denial read as one: a change
# refused out of hours looked as if only approvals were missing. The decision's fields do not read text.
test_flag_key_worded_like_an_alert_does_not_turn_a_denial_into_a_hold if {
	every_flag := {"critical_flags": ["*"], "change_window": object.union(data.flaggate.config.change_window, {"outside_hours": "deny"})}
	req := at(write(["release_engineer"], "flag.enable", "alert: sneaky", "production"), "2025-03-01T10:00:00Z")
	d := authz.decision with input as req with data.flaggate.config as object.union(data.flaggate.config, every_flag)
	not d.allow
	not d.hold_for_approvals
	d.reasons == [
		"alert: out-of-hours change to critical flag alert: sneaky in production",
		"alert: sneaky is outside business hours: critical changes in production are not allowed now",
		"approval required: alert: sneaky in production needs 1 approval(s) by release_engineer other than the requester, 0 present",
	]
}

test_business_hours_follow_the_utc_offset if {
	tz := {"change_window": object.union(data.flaggate.config.change_window, {"utc_offset_minutes": -300})}
	req := at(critical_prod([approval("bob", ["release_engineer"])]), "2025-01-08T10:00:00Z")
	d := authz.decision with input as req with data.flaggate.config as object.union(data.flaggate.config, tz)
	d.reasons[0] == "alert: out-of-hours change to critical flag payments.checkout in production"
}

test_unparseable_time_counts_as_out_of_hours if {
	d := decide(at(critical_prod([approval("bob", ["release_engineer"])]), "soon"))
	d.reasons[0] == "alert: out-of-hours change to critical flag payments.checkout in production"
}

test_non_critical_change_at_night_raises_no_alert if {
	d := decide(at(write(["release_engineer"], "flag.enable", "search.v2", "production"), "2025-01-08T23:00:00Z"))
	d.reasons == ["release_engineer may write in production"]
	d.alerts == []
}

# --- approving a held change

approve(roles, flag, env) := object.union(access(roles, "change.approve"), {"change": {"flagKey": flag, "environment": env}})

test_release_engineer_may_approve_critical_change if {
	d := decide(approve(["flaggate-release"], "payments.checkout", "production"))
	d.allow
	d.reasons == ["release_engineer may approve changes to payments.checkout in production"]
}

test_qa_may_not_approve_critical_change if {
	d := decide(approve(["qa"], "payments.checkout", "production"))
	not d.allow
	not d.hold_for_approvals
	d.reasons == ["role qa may not approve changes to payments.checkout in production"]
}

test_no_approval_for_a_change_that_needs_none if {
	d := decide(approve(["release_engineer"], "search.v2", "production"))
	not d.allow
	d.reasons == ["search.v2 in production needs no approval"]
}

# --- separation of duties: service accounts

test_service_account_approval_not_counted if {
	d := decide(critical_prod([service_approval("deploy-bot", ["release_engineer"])]))
	not d.allow
	d.hold_for_approvals
	d.reasons == ["approval required: payments.checkout in production needs 1 approval(s) by release_engineer other than the requester, 0 present"]
}

test_listed_service_account_approval_counted if {
	d := decide(critical_prod([service_approval("deploy-bot", ["release_engineer"])])) with data.flaggate.config as object.union(data.flaggate.config, listing([" Deploy-Bot"]))
	d.allow
	d.reasons == ["approved by 1 of 1 required release_engineer", "release_engineer may write in production"]
}

test_listing_another_service_account_does_not_count if {
	not decide(critical_prod([service_approval("deploy-bot", ["release_engineer"])])).allow with data.flaggate.config as object.union(data.flaggate.config, listing(["release-bot"]))
}

test_approval_without_auth_method_not_counted if {
	not decide(critical_prod([json.remove(approval("bob", ["release_engineer"]), ["authMethod"])])).allow
}

test_unauthenticated_approval_not_counted if {
	not decide(critical_prod([object.union(approval("bob", ["release_engineer"]), {"authMethod": "none"})])).allow
}

service_approve(id, roles, flag, env) := object.union(approve(roles, flag, env), {"actor": {"id": id, "authMethod": "client-credentials"}})

test_service_account_may_not_approve_critical_change if {
	d := decide(service_approve("deploy-bot", ["release_engineer"], "payments.checkout", "production"))
	not d.allow
	d.reasons == ["service account deploy-bot may not approve changes: it is not listed in critical_approval.service_account_approvers"]
}

test_listed_service_account_may_approve_critical_change if {
	d := decide(service_approve("deploy-bot", ["release_engineer"], "payments.checkout", "production")) with data.flaggate.config as object.union(data.flaggate.config, listing(["deploy-bot"]))
	d.allow
	d.reasons == ["release_engineer may approve changes to payments.checkout in production"]
}

test_listed_service_account_still_needs_an_approver_role if {
	d := decide(service_approve("deploy-bot", ["qa"], "payments.checkout", "production")) with data.flaggate.config as object.union(data.flaggate.config, listing(["deploy-bot"]))
	not d.allow
	d.reasons == ["role qa may not approve changes to payments.checkout in production"]
}

test_every_role_reads_change_requests if {
	every role in ["flag_admin", "release_engineer", "qa", "product", "auditor"] {
		decide(access([role], "change.read")).allow
	}
}

# --- drift: findings are read by auditors, checked by admins, acknowledged only by release engineers

test_release_engineer_acknowledges_drift if {
	d := decide(access(["release_engineer"], "drift.acknowledge"))
	d.allow
	d.reasons == ["release_engineer may acknowledge drift findings"]
}

test_only_release_engineer_acknowledges_drift if {
	every role in ["flag_admin", "qa", "product", "auditor"] {
		not decide(access([role], "drift.acknowledge")).allow
	}
}

test_auditor_reads_drift_but_does_not_check if {
	decide(access(["auditor"], "drift.read")).allow
	not decide(access(["auditor"], "drift.check")).allow
}

test_qa_does_not_read_drift if {
	not decide(access(["qa"], "drift.read")).allow
}

# --- changes over many flags: batches, and the strategies a segment or context field reaches

over_flags(roles, action, key, flags) := object.union(
	altering(roles, action, key, sort({n | some f in flags; some n in f.environments})),
	{"change": {"flags": flags}},
)

member(key, envs) := {"flagKey": key, "project": "default", "environments": envs}

test_bulk_toggle_with_a_critical_flag_is_held_as_a_whole if {
	d := decide(over_flags(["release_engineer"], "flag.enable", "payments.checkout,search.v2", [member("payments.checkout", ["production"]), member("search.v2", ["production"])]))
	not d.allow
	d.hold_for_approvals
	d.required_approvals == 1
}

test_bulk_toggle_without_a_critical_flag_is_allowed if {
	d := decide(over_flags(["release_engineer"], "flag.enable", "checkout.v2,search.v2", [member("checkout.v2", ["production"]), member("search.v2", ["production"])]))
	d.allow
	d.required_approvals == 0
}

test_batch_with_a_critical_flag_approved_by_another_is_allowed if {
	req := over_flags(["release_engineer"], "flag.archive", "payments.checkout,search.v2", [member("payments.checkout", ["*"]), member("search.v2", ["*"])])
	decide(object.union(req, {"approvals": [approval("bob", ["release_engineer"])]})).allow
}

test_segment_reaching_a_critical_flag_in_production_is_held if {
	d := decide(over_flags(["release_engineer"], "segment.update", "segment:7", [member("search.v2", ["production"]), member("Payments.Checkout", ["production"])]))
	d.hold_for_approvals
	not d.allow
}

# The critical flag's own environments count, not the union: here it is reached only in development.
test_segment_reaching_a_critical_flag_only_outside_production_is_allowed if {
	d := decide(over_flags(["release_engineer"], "segment.update", "segment:7", [member("search.v2", ["production"]), member("payments.checkout", ["development"])]))
	d.allow
	d.required_approvals == 0
}

test_context_field_reaching_a_critical_flag_in_an_unknown_environment_is_held if {
	d := decide(over_flags(["release_engineer"], "context.update", "context:region", [member("billing.invoice", ["eu-live-2"])]))
	d.hold_for_approvals
}

test_segment_reaching_no_flag_is_open_to_flag_admin if {
	d := decide(no_context(over_flags(["flag_admin"], "segment.create", "segment:beta", [])))
	d.allow
}

test_segment_reaching_production_needs_production_rights if {
	d := decide(over_flags(["flag_admin"], "segment.update", "segment:7", [member("search.v2", ["development", "production"])]))
	not d.allow
	not d.hold_for_approvals
	"role flag_admin may not write in production" in d.reasons
}

# --- break-glass: an incident commander skips the wait for approvals, and nothing else

break_glass_write(roles, flag, env, context) := object.union(write(roles, "flag.enable", flag, env), {"context": object.union(write(roles, "flag.enable", flag, env).context, context)})

test_break_glass_lifts_missing_approvals if {
	d := decide(break_glass_write(["incident_commander"], "payments.checkout", "production", {"breakGlass": "checkout down"}))
	d.allow
	d.break_glass
	not d.hold_for_approvals
	d.required_approvals == 1
	"break-glass by incident_commander: the wait for approvals is skipped; a second person reviews the change afterwards" in d.reasons
}

test_incident_commander_without_break_glass_is_held if {
	d := decide(write(["incident_commander"], "flag.enable", "payments.checkout", "production"))
	not d.allow
	d.hold_for_approvals
	not d.break_glass
}

test_break_glass_refused_to_a_role_not_named if {
	d := decide(break_glass_write(["release_engineer"], "payments.checkout", "production", {"breakGlass": "checkout down"}))
	not d.allow
	not d.hold_for_approvals
	not d.break_glass
	"break-glass is not allowed to release_engineer" in d.reasons
}

test_break_glass_refused_for_a_flag_not_named if {
	d := decide(break_glass_write(["incident_commander"], "model.scoring", "production", {"breakGlass": "bad model"}))
	not d.allow
	not d.hold_for_approvals
	"break-glass is not allowed for model.scoring in production" in d.reasons
}

test_break_glass_refused_in_an_environment_not_named if {
	d := decide(break_glass_write(["incident_commander"], "payments.checkout", "development", {"breakGlass": "checkout down"}))
	not d.allow
	"break-glass is not allowed for payments.checkout in development" in d.reasons
}

test_break_glass_still_needs_reason_and_ticket if {
	req := break_glass_write(["incident_commander"], "payments.checkout", "production", {"breakGlass": "checkout down", "reason": "", "ticket": " "})
	d := decide(req)
	not d.allow
	not d.hold_for_approvals
	"break-glass changes require a reason (X-Flaggate-Reason)" in d.reasons
	"break-glass changes require a ticket (X-Flaggate-Ticket)" in d.reasons
}

test_break_glass_still_respects_a_denying_change_window if {
	req := object.union(break_glass_write(["incident_commander"], "payments.checkout", "production", {"breakGlass": "checkout down", "timeUtc": "2025-01-11T03:00:00Z"}), {})
	d := authz.decision with input as req with data.flaggate.config.change_window.outside_hours as "deny"
	not d.allow
	not d.hold_for_approvals
}

test_blank_break_glass_header_is_no_break_glass if {
	d := decide(break_glass_write(["incident_commander"], "payments.checkout", "production", {"breakGlass": "  "}))
	not d.break_glass
	d.hold_for_approvals
}

# A batch's key is its members' keys joined: `billing.*` matches "billing.charge,model.ranker" whole.
test_break_glass_over_many_flags_needs_every_member_named if {
	req := over_flags(["incident_commander"], "flag.enable", "billing.charge,model.ranker", [member("billing.charge", ["production"]), member("model.ranker", ["production"])])
	d := decide(object.union(req, {"context": object.union(req.context, {"breakGlass": "outage"})}))
	not d.allow
	not d.break_glass
	"break-glass is not allowed for billing.charge,model.ranker in production" in d.reasons
}

test_break_glass_over_many_named_flags_lifts_the_wait if {
	req := over_flags(["incident_commander"], "flag.enable", "billing.charge,payments.checkout", [member("billing.charge", ["production"]), member("payments.checkout", ["production"])])
	d := decide(object.union(req, {"context": object.union(req.context, {"breakGlass": "outage"})}))
	d.allow
	d.break_glass
}

test_break_glass_over_many_flags_needs_every_member_class_named if {
	req := over_flags(["incident_commander"], "flag.enable", "billing.charge,payments.checkout", [member("billing.charge", ["production"]), member("payments.checkout", ["development"])])
	d := decide(object.union(req, {"context": object.union(req.context, {"breakGlass": "outage"})}))
	not d.break_glass
}

test_break_glass_reviewers if {
	decide(access(["release_engineer"], "break_glass.review")).allow
	decide(access(["incident_commander"], "break_glass.review")).allow
	decide(access(["auditor"], "break_glass.read")).allow
	not decide(access(["auditor"], "break_glass.review")).allow
	not decide(access(["qa"], "break_glass.read")).allow
}
