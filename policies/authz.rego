# flaggate's authorization policy: the entrypoint `decision` for every change, read and audit request.
# Roles, environment classes and critical flags are data (data.json), so changing who may do what
# is a data edit that the bundle revision records.
package flaggate.authz

cfg := data.flaggate.config

# Always defined: a request the rules below cannot evaluate is denied with a reason.
# `hold_for_approvals` and `alerts` are what the sidecar acts on; `reasons` are for people and are
# never parsed.
default decision := {
	"allow": false,
	"reasons": ["denied by default: the request could not be evaluated"],
	"required_approvals": 0,
	"approver_roles": [],
	"hold_for_approvals": false,
	"alerts": [],
	"break_glass": false,
}

decision := {
	"allow": allow,
	"reasons": reasons,
	"required_approvals": approval_requirement.count,
	"approver_roles": approval_requirement.roles,
	"hold_for_approvals": hold_for_approvals,
	"alerts": sort(alerts),
	"break_glass": break_glass,
}

# Allowed only when some role grants the action, nothing else denies it and no approval is missing.
default allow := false

allow if {
	count(grants) > 0
	count(denials) == 0
	count(missing_approvals) == 0
}

# Held rather than refused: approvals are the only thing missing. Any other denial refuses the change,
# since no number of approvals could allow it.
default hold_for_approvals := false

hold_for_approvals if {
	count(grants) > 0
	count(denials) == 0
	count(missing_approvals) > 0
}

# Alerts ride along with whatever was decided, so an allowed and a refused change both raise them.
alert_reasons := {concat("", ["alert: ", a]) | some a in alerts}

blocking := denials | missing_approvals

reasons := sort(((grants | approval_notes) | alert_reasons)) if {
	allow
} else := sort(blocking | alert_reasons) if {
	count(blocking) > 0
} else := array.concat(["no role grants this request"], sort(alert_reasons))

# Grants: one sentence per role of the actor that permits the action.
grants contains concat("", [role, " may write in ", env_label]) if {
	action_kind == "write"
	environments_named
	some role in roles
	may_write_in_all(role)
}

# A change that alters no environment (a new flag, a description, a link) is open to any role that
# may write somewhere; one that alters environments needs each of their classes.
may_write_in_all(role) if {
	count(env_classes) > 0
	every c in env_classes { c in cfg.roles[role].write_environment_classes }
}

may_write_in_all(role) if {
	count(env_classes) == 0
	count(cfg.roles[role].write_environment_classes) > 0
}

grants contains concat("", [role, " may ", text(cfg.actions[action].label)]) if {
	action_kind == "access"
	some role in roles
	action in cfg.roles[role].access
}

# Approving a held change: a role the approval requirement lists, on the change's flag and environment.
grants contains concat("", [role, " may approve changes to ", text(input.change.flagKey), " in ", env_label]) if {
	action_kind == "approve"
	target_needs_approval
	may_approve_as(input.actor.id, input.actor.authMethod)
	some role in roles
	role in cfg.critical_approval.approver_roles
}

# Denials: every reason the request cannot go ahead, each a short sentence.
denials contains "request names no action" if not action_named

denials contains concat("", ["unknown action '", action, "'"]) if {
	is_string(action)
	not cfg.actions[action]
}

denials contains "actor holds no role" if count(role_names) == 0

denials contains concat("", ["unknown role '", name, "'"]) if {
	count(roles) == 0
	some name in unknown_role_names
}

denials contains concat("", ["role ", role, " may not write in ", text(c)]) if {
	action_kind == "write"
	count(grants) == 0
	some role in roles
	some c in env_classes
	not c in cfg.roles[role].write_environment_classes
}

denials contains concat("", ["role ", role, " may not write"]) if {
	action_kind == "write"
	environments_named
	count(env_classes) == 0
	count(grants) == 0
	some role in roles
	count(cfg.roles[role].write_environment_classes) == 0
}

denials contains concat("", ["role ", role, " may not ", text(cfg.actions[action].label)]) if {
	action_kind == "access"
	count(grants) == 0
	some role in roles
	not action in cfg.roles[role].access
}

denials contains concat("", ["role ", role, " may not approve changes to ", text(input.change.flagKey), " in ", env_label]) if {
	action_kind == "approve"
	target_needs_approval
	count(grants) == 0
	may_approve_as(input.actor.id, input.actor.authMethod)
	some role in roles
}

denials contains concat("", ["service account ", text(input.actor.id), " may not approve changes: it is not listed in critical_approval.service_account_approvers"]) if {
	action_kind == "approve"
	target_needs_approval
	input.actor.authMethod == "client-credentials"
	not listed_service_account(input.actor.id)
}

denials contains concat("", [text(input.change.flagKey), " in ", env_label, " needs no approval"]) if {
	action_kind == "approve"
	not target_needs_approval
}

denials contains "a write must name an environment" if {
	action_kind == "write"
	not environments_named
}

denials contains concat("", [text(c), " writes require a reason (X-Flaggate-Reason)"]) if {
	action_kind == "write"
	some c in env_classes
	c in cfg.reason_required_environment_classes
	not has_reason
}

denials contains concat("", [text(c), " writes require a ticket (X-Flaggate-Ticket)"]) if {
	action_kind == "write"
	some c in env_classes
	c in cfg.ticket_required_environment_classes
	not has_ticket
}

# Kept apart from denials: when it is the only thing missing, the change is held (hold_for_approvals).
missing_approvals contains concat("", [
	"approval required: ", text(input.change.flagKey), " in ", env_label,
	" needs ", number_text(approval_requirement.count), " approval(s) by ", concat(" or ", approval_requirement.roles),
	" other than the requester, ", number_text(count(approvers)), " present",
]) if awaiting_approvals

# Why a change is held beyond its flag: said beside the count.
missing_approvals contains concat("", [
	"a version scheduled on ", text(input.change.platform), " for ", text(scheduled_replacement.live_from),
	" replaces this change when it goes live",
]) if {
	awaiting_approvals
	scheduled_replacement
}

missing_approvals contains concat("", [
	"the change asks ", text(input.change.platform), " to apply it even where it makes a pending scheduled change",
	" or approval request fail (ignoreConflicts)",
]) if {
	awaiting_approvals
	overrides_pending_work
}

awaiting_approvals if {
	approval_needed
	count(approvers) < approval_requirement.count
	not break_glass
}

approval_notes contains concat("", ["approved by ", number_text(count(approvers)), " of ", number_text(approval_requirement.count), " required ", concat(" or ", approval_requirement.roles)]) if {
	approval_needed
	count(approvers) >= approval_requirement.count
}
