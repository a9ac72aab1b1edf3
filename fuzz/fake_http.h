/* SPDX-License-Identifier: MIT */
/*
 * fake_http.h - what the fake HTTP layer (fake_http.c) answers next.
 */
#ifndef PB_FAKE_HTTP_H
#define PB_FAKE_HTTP_H

#include <stdbool.h>
#include <stddef.h>

struct fake_answer {
	bool transport_error;   /* fail as if the connection was refused */
	long status;
	long retry_after;       /* -1: none */
	const char *body;       /* body_len bytes, any content */
	size_t body_len;
	unsigned requests;      /* how many requests started so far */
};

extern struct fake_answer fake_answer;

#endif
