# Reasons are joined with concat, not sprintf: the WASM target has no sprintf of its own, so each
# call went out to the host and back as JSON (about a seventh of a decision's time). A value that
# may not be a string (one from the input or the data) goes through `text`, which still hands it to
# sprintf, so no sentence goes missing for its value's type: concat would fail on it, and a denial
# that failed would let a change through.
package flaggate.authz

text(x) := x if is_string(x)

else := sprintf("%s", [x])

# The WASM's format_int aborts the evaluation from 2^31 on and writes -2^31 with two minus signs:
# it is given only the integers it writes right (every count in practice).
number_text(n) := format_int(n, 10) if {
	is_number(n)
	n == floor(n)
	abs(n) < 2147483648
}

else := sprintf("%d", [n])
