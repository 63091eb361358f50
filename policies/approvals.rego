# Critical flags: writes in the listed environment classes need approvals by someone other than the requester.
package flaggate.authz

# Case-insensitive, so `Payments.Checkout` cannot slip past `payments.*`.
critical_flag if critical_key(input.change.flagKey)

critical_key(key) if {
	is_string(key)
	some pattern in cfg.critical_flags
	flag_pattern_matches(pattern, key)
}

# Platforms that name flags by id in their paths (Flagsmith) key the change by that id; the flag's
# name comes with the state read from the platform before the change, and is judged the same way.
# A name that is the key was judged above: each glob.match compiles its pattern anew
# (flag_patterns.rego), so it is not matched twice.
critical_flag if {
	is_string(input.change.previousState.name)
	not is_the_flag_key(input.change.previousState.name)
	some pattern in cfg.critical_flags
	flag_pattern_matches(pattern, input.change.previousState.name)
}

approval_needed if {
	action_kind == "write"
	target_needs_approval
}

target_needs_approval if {
	critical_flag
	some c in env_classes
	c in cfg.critical_approval.environment_classes
}

# A change over many flags (a bulk toggle, a batch archive, the strategies a segment or context field
# reaches) is one decision: a critical flag among them, where it alters a class that needs approval,
# holds the whole change.
target_needs_approval if {
	some f in member_flags
	critical_key(f.flagKey)
	some c in member_classes(f)
	c in cfg.critical_approval.environment_classes
}

# A version the platform has scheduled to go live later (Flagsmith's versioned environments,
# `previousState.scheduled`, soonest first) replaces whatever is live then, this change included:
# the change lasts only until then, so someone other than the requester confirms it first.
target_needs_approval if scheduled_replacement

# The soonest, as the state read orders them; recorded with the time it goes live.
scheduled_replacement := first if {
	is_array(input.change.previousState.scheduled)
	first := input.change.previousState.scheduled[0]
	is_string(first.live_from)
}

# LaunchDarkly refuses a change that would make a pending scheduled change or approval request fail,
# unless the change asks it not to (`ignoreConflicts`, kept in `newState`): held like the above.
target_needs_approval if overrides_pending_work

overrides_pending_work if input.change.newState.ignoreConflicts == true

member_flags := input.change.flags if is_array(input.change.flags)

else := []

# A member's environments, classed like the change's: "*" is every class, an unknown name production.
member_classes(f) := all_classes if {
	some n in f.environments
	n == "*"
} else := {class_of(lower(trim_space(n))) | some n in f.environments; is_string(n)}

default approval_requirement := {"count": 0, "roles": []}

approval_requirement := {
	"count": cfg.critical_approval.required_approvals,
	"roles": cfg.critical_approval.approver_roles,
} if approval_needed

# Distinct approver ids: the requester's own approval and approvers without a listed role do not count.
# Ids compare case-insensitively and trimmed: "Riley" is the requester "riley", and counts once.
approvers contains lower(trim_space(approval.approverId)) if {
	some approval in input.approvals
	is_string(approval.approverId)
	trim_space(approval.approverId) != ""
	lower(trim_space(approval.approverId)) != lower(trim_space(input.actor.id))
	may_approve_as(approval.approverId, approval.authMethod)
	some name in approval.roles
	cfg.role_mapping[name] in approval_requirement.roles
}

# Separation of duties: a service account (client-credentials token) has no person behind it, so
# whoever runs the pipeline could approve their own change through it. Its approval counts only when
# the data lists its id in critical_approval.service_account_approvers. An approval that does not say
# how its approver authenticated does not count either.
may_approve_as(id, auth_method) if {
	is_string(auth_method)
	not auth_method in {"client-credentials", "none"}
}

may_approve_as(id, "client-credentials") if listed_service_account(id)

listed_service_account(id) if {
	is_string(id)
	some listed in object.get(cfg.critical_approval, "service_account_approvers", [])
	lower(trim_space(listed)) == lower(trim_space(id))
}

is_the_flag_key(name) if name == input.change.flagKey
