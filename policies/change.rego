# What is asked: the action's kind, the environment's class, whether a reason was given.
package flaggate.authz

action := input.change.action

action_named if is_string(action)

action_kind := cfg.actions[action].kind

env_key := lower(trim_space(input.change.environment)) if is_string(input.change.environment)

env_class := cfg.environment_classes[env_key] if env_key != ""

# An environment name nobody classified is treated as production: fail safe.
env_class := cfg.unknown_environment_class if {
	env_key != ""
	not cfg.environment_classes[env_key]
}

has_reason if {
	is_string(input.context.reason)
	trim_space(input.context.reason) != ""
}

has_ticket if {
	is_string(input.context.ticket)
	trim_space(input.context.ticket) != ""
}
