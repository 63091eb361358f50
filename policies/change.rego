# What is asked: the action's kind, the environment's class, whether a reason was given.
package flaggate.authz

action := input.change.action

action_named if is_string(action)

action_kind := cfg.actions[action].kind

# The environments a change can alter: `change.environments` when the adapter says (`[]` for none,
# `["*"]` for every one), else the one `change.environment` names ("*" is every one there too).
env_names := input.change.environments if is_array(input.change.environments)

env_names := [input.change.environment] if {
	not is_array(object.get(input.change, "environments", null))
	is_string(input.change.environment)
}

env_keys := [lower(trim_space(n)) | some n in env_names; is_string(n)]

# Every name a usable one: a write whose environments cannot be read is denied, never guessed at.
environments_named if {
	count(env_keys) == count(env_names)
	every k in env_keys { k != "" }
}

every_environment if "*" in env_keys

# The classes those environments belong to. An environment name nobody classified is treated as
# production: fail safe. "Every environment" is every class the data knows, and that one.
env_classes contains class_of(k) if {
	environments_named
	some k in env_keys
	k != "*"
}

env_classes contains c if {
	environments_named
	every_environment
	some c in all_classes
}

all_classes := {c | some c in cfg.environment_classes} | {cfg.unknown_environment_class}

class_of(k) := cfg.environment_classes[k]

class_of(k) := cfg.unknown_environment_class if not cfg.environment_classes[k]

# For messages: the class ("production"), "every environment", or "no environment".
env_label := "every environment" if every_environment

else := "no environment" if count(env_classes) == 0

else := concat(", ", sort(env_classes))

has_reason if {
	is_string(input.context.reason)
	trim_space(input.context.reason) != ""
}

has_ticket if {
	is_string(input.context.ticket)
	trim_space(input.context.ticket) != ""
}
