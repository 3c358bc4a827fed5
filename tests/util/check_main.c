/*
 * check_main.c -- the one test runner: every suite, one closing summary.
 *
 * Check's fork mode runs each test in its own process, so a crash fails
 * one test, and each integration test starts (and stops) its own psyncd.
 */
#include <stdlib.h>

#include "harness.h"

int
main(void)
{
	SRunner	*sr;
	int	 failed;

	sr = srunner_create(proto_suite());
	srunner_add_suite(sr, objects_suite());
	srunner_add_suite(sr, session_suite());
	srunner_add_suite(sr, primitives_suite());
	srunner_add_suite(sr, server_suite());
	srunner_add_suite(sr, lock_suite());
	srunner_add_suite(sr, event_suite());
	srunner_add_suite(sr, input_suite());
	srunner_add_suite(sr, limits_suite());
	srunner_add_suite(sr, primitives_int_suite());
	srunner_add_suite(sr, model_suite());
	srunner_add_suite(sr, fork_suite());
	srunner_add_suite(sr, contract_suite());
	srunner_add_suite(sr, client_suite());
	srunner_add_suite(sr, systemd_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return (failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE);
}
