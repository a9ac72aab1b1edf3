/*
 * proto.c - the module <-> helper pipe protocol (see proto.h).
 */
#include <stdlib.h>
#include <string.h>

#include "proto.h"

int pb_proto_put_secret(struct pb_buf *buf, const char *profile, const char *field,
			const char *value)
{
	size_t n = strlen(value);

	if (pb_buf_addf(buf, "secret %s %s %zu\n", profile, field, n) < 0 ||
	    pb_buf_add(buf, value, n) < 0 || pb_buf_add(buf, "\n", 1) < 0)
		return -1;
	return 0;
}

int pb_proto_put_end(struct pb_buf *buf)
{
	return pb_buf_adds(buf, "end\n");
}

/* Read "secret P F N\n" at data[*pos]; leave *pos at the value. */
static int read_header(const char *data, size_t len, size_t *pos, char *profile,
		       char *field, size_t *n)
{
	const char *nl = memchr(data + *pos, '\n', len - *pos);
	char line[200], *save = NULL, *word[4];
	size_t llen;
	long v;

	if (nl == NULL || (llen = (size_t)(nl - (data + *pos))) >= sizeof(line))
		return -1;
	memcpy(line, data + *pos, llen);
	line[llen] = '\0';
	*pos += llen + 1;
	for (int i = 0; i < 4; i++)
		if ((word[i] = strtok_r(i == 0 ? line : NULL, " ", &save)) == NULL)
			return -1;
	if (strtok_r(NULL, " ", &save) != NULL || strcmp(word[0], "secret") != 0 ||
	    !pb_valid_name(word[1]) || !pb_valid_name(word[2]) ||
	    pb_parse_long(word[3], &v) < 0 || v < 0 || v > PB_PROTO_MAX_SECRET)
		return -1;
	strcpy(profile, word[1]);   /* pb_valid_name: at most 64 chars */
	strcpy(field, word[2]);
	*n = (size_t)v;
	return 0;
}

int pb_proto_read_secrets(const char *data, size_t len, struct pb_creds *creds,
			  struct pb_err *err)
{
	char profile[65], field[65], *value = NULL;
	size_t pos = 0, n;
	int rc = -1;

	while (pos < len) {
		if (len - pos == 4 && memcmp(data + pos, "end\n", 4) == 0) {
			rc = 0;
			goto done;
		}
		if (read_header(data, len, &pos, profile, field, &n) < 0 || len - pos < n + 1 ||
		    data[pos + n] != '\n' || memchr(data + pos, '\0', n) != NULL)
			break;
		if ((value = strndup(data + pos, n)) == NULL ||
		    pb_creds_add(creds, profile, field, value, err) < 0)
			goto done;
		pb_wipe_free(value);
		value = NULL;
		pos += n + 1;
	}
	pb_fail(err, PB_E_INTERNAL, "malformed secrets from the PAM module");
done:
	pb_wipe_free(value);
	return rc;
}

int pb_proto_put_result(struct pb_buf *out, const char *profile, int code, const char *text)
{
	size_t start = out->len;

	if (pb_buf_addf(out, "result %s %d %s\n", profile, code, text) < 0)
		return -1;
	/* the text is one line, whatever it held */
	for (size_t i = start; i + 1 < out->len; i++)
		if ((unsigned char)out->data[i] < 0x20)
			out->data[i] = '?';
	return 0;
}

int pb_proto_parse_result(char *line, const char **profile, int *code, const char **text)
{
	char *p, *c, *end;
	long v;

	if (strncmp(line, "result ", 7) != 0)
		return -1;
	p = line + 7;
	if ((c = strchr(p, ' ')) == NULL)
		return -1;
	*c++ = '\0';
	if ((end = strchr(c, ' ')) == NULL)
		return -1;
	*end++ = '\0';
	if (!pb_valid_name(p) || pb_parse_long(c, &v) < 0 || v < 0 || v > PB_E_INTERNAL)
		return -1;
	*profile = p;
	*code = (int)v;
	*text = end;
	return 0;
}
