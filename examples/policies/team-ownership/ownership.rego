# Example policy module: per-team ownership of flags. Built together with policies/ (it adds to the
# default policy's denials), it refuses a write to a flag owned by a team the actor is not on.
#
# A flag's team comes from its tags as the platform reports them (a string "team:<name>", or an
# object {"type": "team", "value": "<name>"}), in the state read before the change or, for a new
# flag, in the state the request asks for; a flag without a team tag belongs to the team whose name
# prefix in data.flaggate.examples.ownership.prefixes matches its key. An actor is on a team
# through a role "team:<name>" or a group "team:<name>" (which reaches the policy as
# "group:team:<name>") in the token. Roles listed in exempt_roles write anywhere.
package flaggate.authz

ownership := data.flaggate.examples.ownership

flag_tags contains tag if {
	some state in [object.get(input.change, "previousState", null), object.get(input.change, "newState", null)]
	is_object(state)
	is_array(state.tags)
	some tag in state.tags
}

team_of_tag(tag) := substring(tag, 5, -1) if {
	is_string(tag)
	startswith(tag, "team:")
}

team_of_tag(tag) := tag.value if {
	is_object(tag)
	tag.type == "team"
	is_string(tag.value)
}

tagged_teams contains team if {
	some tag in flag_tags
	team := team_of_tag(tag)
}

# Prefixes apply only to flags no tag assigns: a tag is the owner's own statement.
prefix_teams contains team if {
	count(tagged_teams) == 0
	is_string(input.change.flagKey)
	some team, prefixes in ownership.prefixes
	some prefix in prefixes
	startswith(input.change.flagKey, prefix)
}

owning_teams := tagged_teams | prefix_teams

actor_teams contains substring(name, 5, -1) if {
	some name in role_names
	startswith(name, "team:")
}

actor_teams contains substring(name, 11, -1) if {
	some name in role_names
	startswith(name, "group:team:")
}

ownership_exempt if {
	some role in roles
	role in ownership.exempt_roles
}

denials contains sprintf("%s belongs to team %s; %s is not on it", [input.change.flagKey, concat(" or ", sort(owning_teams)), input.actor.id]) if {
	action_kind == "write"
	count(owning_teams) > 0
	count(owning_teams & actor_teams) == 0
	not ownership_exempt
}
