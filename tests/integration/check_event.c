/*
 * check_event.c -- events between processes over real sockets.
 */
#include <stdio.h>
#include <string.h>

#include "harness.h"

START_TEST(test_event_across_connections)
{
	struct daemon	 d;
	struct tc	*setter, *w[3];
	json_t		*r;
	int		 i;

	daemon_start(&d, NULL);
	setter = tc_open(d.sock);
	for (i = 0; i < 3; i++) {
		w[i] = tc_open(d.sock);
		tc_send(w[i], "{\"op\":\"event.wait\",\"name\":\"go\",\"id\":\"w\"}");
		json_decref(tc_call(w[i], "{\"op\":\"ping\"}"));
	}
	r = tc_call(setter, "{\"op\":\"event.is_set\",\"name\":\"go\"}");
	ck_assert(!j_bool(r, "set"));
	json_decref(r);
	json_decref(tc_call(setter, "{\"op\":\"event.set\",\"name\":\"go\"}"));
	for (i = 0; i < 3; i++) {
		r = tc_reply(w[i]);
		ck_ok(r);
		ck_assert_str_eq(j_str(r, "id"), "w");
		ck_assert(j_bool(r, "set"));
		json_decref(r);
	}
	r = tc_call(setter, "{\"op\":\"event.is_set\",\"name\":\"go\"}");
	ck_assert(j_bool(r, "set"));
	json_decref(r);
	json_decref(tc_call(setter, "{\"op\":\"event.clear\",\"name\":\"go\"}"));
	r = tc_call(w[0], "{\"op\":\"event.wait\",\"name\":\"go\",\"timeout\":0.05}");
	ck_assert(!j_bool(r, "set"));
	json_decref(r);
	/* A waiter that disconnects is simply dropped. */
	tc_send(w[1], "{\"op\":\"event.wait\",\"name\":\"go\"}");
	json_decref(tc_call(w[1], "{\"op\":\"ping\"}"));
	tc_close(w[1]);
	r = tc_call(setter, "{\"op\":\"stat\"}");
	for (i = 0; i < 100 && j_int(r, "objects") != 0; i++) {
		json_decref(r);
		tc_expect_silence(setter, 0.01);
		r = tc_call(setter, "{\"op\":\"stat\"}");
	}
	ck_assert_int_eq(j_int(r, "objects"), 0);
	json_decref(r);
	tc_close(w[0]);
	tc_close(w[2]);
	tc_close(setter);
	daemon_finish(&d);
}
END_TEST

Suite *
event_suite(void)
{
	Suite	*s = suite_create("event");

	ADD_TEST(s, test_event_across_connections, 20);
	return (s);
}
