/* SPDX-License-Identifier: MIT */
/*
 * fuzz_ctl.c - libFuzzer target for the refresher's protocol (lib/ctl.c):
 * every parse in ctl.h, with its put.
 *
 * Byte 0 picks the parser; the rest is the line, handed over in a buffer
 * of exactly its length so a read past the end is caught:
 *   0  pb_ctl_parse_request   (a client -> daemon.sock)
 *   1  pb_ctl_parse_plan      (a line of the schedule reply)
 *   2  pb_ctl_parse_done      (a renewal process -> the refresher)
 *   3  pb_ctl_parse_session   (a session id, as argv or a request has it)
 * Invariants: what a parser accepts, its put writes back as one line that
 * the parser reads as the same thing; names are pb_valid_name, numbers in
 * range.
 */
#include "ctl.h"
#include "expiry.h"
#include "fuzz.h"

/* out is exactly one line: a newline at its end and nowhere else. */
static void check_one_line(const struct pb_buf *out)
{
	FUZZ_CHECK(out->len > 0 && out->data[out->len - 1] == '\n');
	FUZZ_CHECK(memchr(out->data, '\n', out->len) == out->data + out->len - 1);
	FUZZ_CHECK(memchr(out->data, '\0', out->len) == NULL);
}

static void fuzz_request(const char *msg, size_t len)
{
	struct pb_ctl_request req, again;
	struct pb_buf out = { 0 };

	if (pb_ctl_parse_request(msg, len, &req) < 0)
		return;
	FUZZ_CHECK(req.cmd >= PB_CTL_PING && req.cmd <= PB_CTL_SCHEDULE);
	if (req.cmd == PB_CTL_GET || req.cmd == PB_CTL_REFRESH)
		FUZZ_CHECK(pb_valid_name(req.profile) && req.min_valid >= 0 &&
			   req.min_valid <= PB_MAX_LIFETIME);
	FUZZ_CHECK(pb_ctl_put_request(&out, &req) == 0);
	check_one_line(&out);
	FUZZ_CHECK(pb_ctl_parse_request(out.data, out.len, &again) == 0);
	FUZZ_CHECK(again.cmd == req.cmd && again.min_valid == req.min_valid &&
		   strcmp(again.profile, req.profile) == 0 &&
		   again.session.pid == req.session.pid &&
		   strcmp(again.session.cookie, req.session.cookie) == 0);
	pb_buf_wipe(&out);
}

static void fuzz_plan(const char *msg, size_t len)
{
	struct pb_ctl_plan plan, again;
	struct pb_buf out = { 0 };

	if (pb_ctl_parse_plan(msg, len, &plan) < 0)
		return;
	FUZZ_CHECK(pb_valid_name(plan.profile) && plan.at >= 0);
	FUZZ_CHECK(pb_ctl_put_plan(&out, &plan) == 0);
	check_one_line(&out);
	FUZZ_CHECK(pb_ctl_parse_plan(out.data, out.len - 1, &again) == 0);
	FUZZ_CHECK(again.at == plan.at && again.what == plan.what &&
		   strcmp(again.profile, plan.profile) == 0);
	pb_buf_wipe(&out);
}

static void fuzz_done(const char *msg, size_t len)
{
	struct pb_ctl_done done, again;
	struct pb_buf out = { 0 };

	if (pb_ctl_parse_done(msg, len, &done) < 0)
		return;
	FUZZ_CHECK(pb_valid_name(done.profile) && done.code >= 0 && done.next_attempt_ms >= 0);
	FUZZ_CHECK(strchr(done.text, '\n') == NULL);
	FUZZ_CHECK(pb_ctl_put_done(&out, &done) == 0);
	check_one_line(&out);
	FUZZ_CHECK(pb_ctl_parse_done(out.data, out.len, &again) == 0);
	FUZZ_CHECK(again.code == done.code && again.outcome == done.outcome &&
		   again.asked_ms == done.asked_ms && again.next_attempt_ms == done.next_attempt_ms &&
		   strcmp(again.profile, done.profile) == 0 && strcmp(again.text, done.text) == 0);
	pb_buf_wipe(&out);
}

static void fuzz_session(const char *msg, size_t len)
{
	struct pb_session_id id, again;
	char *s = fuzz_cstr((const uint8_t *)msg, len), out[PB_SESSION_ID_MAX];

	if (s == NULL || pb_ctl_parse_session(s, &id) < 0)
		goto done;
	FUZZ_CHECK(id.pid > 0 && strlen(id.cookie) == 16);
	pb_ctl_put_session(&id, out);
	FUZZ_CHECK(pb_ctl_parse_session(out, &again) == 0);
	FUZZ_CHECK(again.pid == id.pid && strcmp(again.cookie, id.cookie) == 0);
	/* one spelling: a session id that is accepted is written back as it came */
	FUZZ_CHECK(strcmp(out, s) == 0);
done:
	free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *msg;

	if (size < 1)
		return 0;
	if ((msg = malloc(size - 1 ? size - 1 : 1)) == NULL)
		return 0;
	memcpy(msg, data + 1, size - 1);
	switch (data[0] % 4) {
	case 0: fuzz_request(msg, size - 1); break;
	case 1: fuzz_plan(msg, size - 1); break;
	case 2: fuzz_done(msg, size - 1); break;
	default: fuzz_session(msg, size - 1); break;
	}
	free(msg);
	return 0;
}
