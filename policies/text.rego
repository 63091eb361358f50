# Reasons are joined with concat, not sprintf: the WASM target has no sprintf of its own, so each
# call went out to the host and back as JSON (about a seventh of a decision's time). A value that
# may not be a string (one from the input or the data) goes through `text`, which still hands it to
# sprintf, so no sentence goes missing for its value's type: concat would fail on it, and a denial
# that failed would let a change through.
package flaggate.authz

text(x) := x if is_string(x)

else := sprintf("%s", [x])

number_text(n) := format_int(n, 10) if is_number(n)

else := sprintf("%d", [n])
