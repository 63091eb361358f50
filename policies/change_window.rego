# Business hours: critical production changes outside them always raise an alert, and are
# refused when data says so. The time is parsed by hand (the WASM target has no time builtins);
# a time that does not parse counts as outside the window, so a malformed input cannot hide a change.
package flaggate.authz

window := cfg.change_window

watched_change if {
	action_kind == "write"
	critical_flag
	some c in env_classes
	c in window.environment_classes
}

# A change over many flags (a batch, the flags a segment or context field reaches, a parent's
# children) is watched when a critical flag among them is altered in a watched class: its key is
# the batch's, which no critical pattern need match.
watched_change if {
	action_kind == "write"
	some f in member_flags
	critical_key(f.flagKey)
	some c in member_classes(f)
	c in window.environment_classes
}

out_of_hours if {
	watched_change
	not within_window
}

within_window if {
	t := input.context.timeUtc
	is_string(t)
	regex.match(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}`, t)
	y := to_number(substring(t, 0, 4))
	m := to_number(substring(t, 5, 2))
	d := to_number(substring(t, 8, 2))
	minute_of_week := ((weekday(y, m, d) * 1440) + (to_number(substring(t, 11, 2)) * 60)) + to_number(substring(t, 14, 2))
	local := ((minute_of_week + window.utc_offset_minutes) + 10080) % 10080
	local_day := floor(local / 1440)
	local_day in window.days
	local_hour := (local % 1440) / 60
	local_hour >= window.start_hour
	local_hour < window.end_hour
}

# Sakamoto's method: 0 = Sunday … 6 = Saturday.
weekday(y, m, d) := (((((yy + floor(yy / 4)) - floor(yy / 100)) + floor(yy / 400)) + month_offsets[m - 1]) + d) % 7 if {
	yy := y - to_number(m < 3)
}

month_offsets := [0, 3, 2, 5, 0, 3, 5, 1, 4, 6, 2, 4]

# Each alert raises flaggate_out_of_hours_critical_changes_total and is repeated in the reasons as "alert: …".
alerts contains concat("", ["out-of-hours change to critical flag ", text(input.change.flagKey), " in ", env_label]) if out_of_hours

denials contains concat("", [text(input.change.flagKey), " is outside business hours: critical changes in ", env_label, " are not allowed now"]) if {
	out_of_hours
	window.outside_hours == "deny"
}
