# Who is asking: token role and group names mapped to flaggate roles (data.flaggate.config.role_mapping).
package flaggate.authz

role_names contains name if {
	some name in input.actor.roles
	is_string(name)
}

roles contains role if {
	some name in role_names
	role := cfg.role_mapping[name]
	cfg.roles[role]
}

unknown_role_names contains name if {
	some name in role_names
	not known_role_name(name)
}

# A helper, so an unmapped name makes `not` true instead of leaving the rule body undefined.
known_role_name(name) if cfg.roles[cfg.role_mapping[name]]
