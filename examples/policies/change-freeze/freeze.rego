# Example policy module: change freezes. Built together with policies/ (it adds to the default
# policy's denials), it refuses writes to the listed environment classes during each freeze in
# data.flaggate.examples.freezes ({name, from, to, environment_classes, exception_ticket_prefix}):
# from inclusive, to exclusive, both UTC "YYYY-MM-DDTHH:MM:SSZ". A change whose ticket starts with
# the freeze's exception prefix (an incident, say) is let through, and the reason says so.
#
# Times are compared as text, which orders ISO 8601 UTC times correctly when both have the same
# shape: the first 19 characters of the decision time are compared (milliseconds ignored). A time
# that is not in that shape counts as inside every freeze, so a malformed input cannot slip through.
package flaggate.authz

freezes := data.flaggate.examples.freezes

decision_second := substring(input.context.timeUtc, 0, 19) if regex.match(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}`, input.context.timeUtc)

in_freeze(f) if {
	t := decision_second
	t >= substring(f.from, 0, 19)
	t < substring(f.to, 0, 19)
}

in_freeze(_) if not decision_second

freeze_exception(f) if {
	is_string(input.context.ticket)
	f.exception_ticket_prefix != ""
	startswith(input.context.ticket, f.exception_ticket_prefix)
}

frozen contains [f, c] if {
	action_kind == "write"
	some f in freezes
	in_freeze(f)
	some c in env_classes
	c in f.environment_classes
}

denials contains sprintf("%s writes are frozen (%s, %s to %s)", [c, f.name, f.from, f.to]) if {
	some [f, c] in frozen
	not freeze_exception(f)
}

grants contains sprintf("%s freeze exception by ticket %s", [f.name, input.context.ticket]) if {
	some [f, _] in frozen
	freeze_exception(f)
}
