# Flag patterns (critical_flags, break_glass.flags) are globs, matched case-insensitively.
package flaggate.authz

# glob.match compiles its pattern into a regular expression on every call (the WASM's heap is reset
# each evaluation): three patterns were half a decision's time. A glob's text before its first
# special character is literal, so a name that does not start with it cannot match, and is not
# handed to glob.match. `]`, `}` and `,` are special only after `[` or `{`: stopping at them as
# well only shortens the prefix. Finding that prefix takes a scan for each special character, so a
# name is first held to the pattern's first character, which turns most names away.
flag_pattern_matches(pattern, name) if {
	p := lower(pattern)
	n := lower(name)
	may_start(p, n)
	startswith(n, glob_literal_prefix(p))
	glob.match(p, null, n)
}

may_start(p, _) if substring(p, 0, 1) in glob_specials

may_start(p, n) if startswith(n, substring(p, 0, 1))

glob_specials := ["*", "?", "[", "]", "{", "}", ",", "\\"]

glob_literal_prefix(p) := substring(p, 0, min(at)) if {
	at := [i | some c in glob_specials; i := indexof(p, c); i >= 0]
	count(at) > 0
} else := p
