package flaggate.authz_test

import data.flaggate.authz

# Policies speak of platforms: `platform_writers` keeps a platform to the roles it lists.
on_platform(req, platform) := object.union(req, {"change": {"platform": platform}})

payments_writers := {"payments": ["release_engineer"]}

test_platform_writers_refuse_a_role_they_do_not_list if {
	d := authz.decision with input as on_platform(write(["flag_admin"], "flag.enable", "search.v2", "development"), "payments")
		with data.flaggate.config.platform_writers as payments_writers
	not d.allow
	not d.hold_for_approvals
	d.reasons == ["platform payments takes writes only from release_engineer"]
}

test_platform_writers_admit_a_role_they_list if {
	d := authz.decision with input as on_platform(write(["release_engineer"], "flag.enable", "search.v2", "development"), "payments")
		with data.flaggate.config.platform_writers as payments_writers
	d.allow
}

test_a_platform_platform_writers_does_not_name_is_open_to_every_writer if {
	d := authz.decision with input as on_platform(write(["flag_admin"], "flag.enable", "search.v2", "development"), "flagd")
		with data.flaggate.config.platform_writers as payments_writers
	d.allow
	d.reasons == ["flag_admin may write in development"]
}

test_platform_writers_leave_reads_alone if {
	d := authz.decision with input as on_platform(access(["auditor"], "audit.read"), "payments")
		with data.flaggate.config.platform_writers as payments_writers
	d.allow
}

test_no_platform_writers_in_the_data_leaves_every_platform_open if {
	d := authz.decision with input as on_platform(write(["flag_admin"], "flag.enable", "search.v2", "development"), "payments")
	d.allow
}
