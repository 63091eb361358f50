# Which platform a change is for: `input.change.platform`, the platform's id in the configuration
# (`platforms[].id`, the plug-in's name when unset), so one sidecar in front of several platforms can
# keep some of them to some roles. data.flaggate.config.platform_writers maps a platform id to the
# roles that may write to it; a platform it does not name is open to every role that may write.
package flaggate.authz

platform := input.change.platform

platform_writer_roles := object.get(object.get(cfg, "platform_writers", {}), platform, null) if is_string(platform)

denials contains concat("", ["platform ", platform, " takes writes only from ", concat(" or ", platform_writer_roles)]) if {
	action_kind == "write"
	is_array(platform_writer_roles)
	not some_role_writes_to_platform
}

some_role_writes_to_platform if {
	some role in roles
	role in platform_writer_roles
}
