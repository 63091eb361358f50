# Break-glass: an emergency change (X-Flaggate-Break-Glass: <reason>) skips the wait for approvals,
# and nothing else. Which roles may declare one, and for which flags and environment classes, is
# data (break_glass); a change that uses it is reviewed afterwards by a second person.
package flaggate.authz

bg := object.get(cfg, "break_glass", {"roles": [], "flags": [], "environment_classes": []})

break_glass_requested if {
	is_string(input.context.breakGlass)
	trim_space(input.context.breakGlass) != ""
}

break_glass_roles contains role if {
	some role in roles
	role in bg.roles
}

# The flag by its key, or by the name read from the platform (as critical_flag judges it).
# A change over many flags names them in its key joined by commas, which a pattern such as
# `billing.*` would match whole: such a change is judged by its members alone.
break_glass_flag if {
	not lists_members
	is_string(input.change.flagKey)
	some pattern in bg.flags
	flag_pattern_matches(pattern, input.change.flagKey)
}

break_glass_flag if {
	not lists_members
	is_string(input.change.previousState.name)
	not is_the_flag_key(input.change.previousState.name)
	some pattern in bg.flags
	flag_pattern_matches(pattern, input.change.previousState.name)
}

# A change that lists its flags (even none) is judged by them, never by its key.
lists_members if is_array(input.change.flags)

# Every member must be a flag break-glass may lift, in every class that member alters.
break_glass_flag if {
	count(member_flags) > 0
	every f in member_flags { break_glass_member(f) }
}

break_glass_member(f) if {
	is_string(f.flagKey)
	some pattern in bg.flags
	flag_pattern_matches(pattern, f.flagKey)
	every c in member_classes(f) { c in bg.environment_classes }
}

# Every environment the change alters must allow it; a change that alters none needs no approval anyway.
break_glass_environments if {
	count(env_classes) > 0
	every c in env_classes { c in bg.environment_classes }
}

# Granted: lifts missing approvals only. Denials (reason, ticket, change window, role) still apply.
default break_glass := false

break_glass if {
	break_glass_requested
	action_kind == "write"
	count(break_glass_roles) > 0
	break_glass_flag
	break_glass_environments
}

# Asked for and not granted: refused outright, never quietly held for approvals instead.
denials contains concat("", ["break-glass is not allowed to ", concat(", ", sort(roles))]) if {
	break_glass_requested
	action_kind == "write"
	count(break_glass_roles) == 0
}

denials contains concat("", ["break-glass is not allowed for ", text(input.change.flagKey), " in ", env_label]) if {
	break_glass_requested
	action_kind == "write"
	count(break_glass_roles) > 0
	not break_glass_target
}

break_glass_target if {
	break_glass_flag
	break_glass_environments
}

denials contains "break-glass changes require a reason (X-Flaggate-Reason)" if {
	break_glass_requested
	action_kind == "write"
	not has_reason
}

denials contains "break-glass changes require a ticket (X-Flaggate-Ticket)" if {
	break_glass_requested
	action_kind == "write"
	not has_ticket
}

approval_notes contains concat("", ["break-glass by ", concat(", ", sort(break_glass_roles)), ": the wait for approvals is skipped; a second person reviews the change afterwards"]) if {
	break_glass
	approval_needed
}
