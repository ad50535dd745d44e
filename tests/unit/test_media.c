/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for media/media: media id validation (the spec's
 * [A-Za-z0-9_-] rule against traversal), content types, the inline list,
 * RFC 6266 Content-Disposition values, and content-addressed storage
 * (identical uploads share one file; aborted uploads leave nothing).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/arena.h"
#include "core/rand.h"
#include "media/media.h"
#include "media/thumbnail.h"

static void test_media_id(void **state)
{
	char long_id[300];
	assert_true(mx_media_id_ok("abcXYZ019_-"));
	assert_false(mx_media_id_ok(""));
	assert_false(mx_media_id_ok(".."));
	assert_false(mx_media_id_ok("../etc/passwd"));
	assert_false(mx_media_id_ok("a/b"));
	assert_false(mx_media_id_ok("a%2Fb"));
	assert_false(mx_media_id_ok("a.b"));
	assert_false(mx_media_id_ok("a b"));
	assert_false(mx_media_id_ok("\xc3\xa9"));
	memset(long_id, 'a', 255);
	long_id[255] = '\0';
	assert_true(mx_media_id_ok(long_id));
	long_id[255] = 'a';
	long_id[256] = '\0';
	assert_false(mx_media_id_ok(long_id));
}

static void test_content_type(void **state)
{
	assert_true(mx_media_content_type_ok("image/png"));
	assert_true(mx_media_content_type_ok("text/plain; charset=utf-8"));
	assert_false(mx_media_content_type_ok("image"));
	assert_false(mx_media_content_type_ok("/png"));
	assert_false(mx_media_content_type_ok("image/"));
	assert_false(mx_media_content_type_ok("text/plain\r\nX-Evil: 1"));
}

static void test_inline(void **state)
{
	assert_true(mx_media_inline_ok("image/png"));
	assert_true(mx_media_inline_ok("IMAGE/PNG"));
	assert_true(mx_media_inline_ok("text/plain; charset=utf-8"));
	assert_true(mx_media_inline_ok("audio/x-flac"));
	assert_false(mx_media_inline_ok("text/html"));
	assert_false(mx_media_inline_ok("image/svg+xml"));
	assert_false(mx_media_inline_ok("application/javascript"));
	assert_false(mx_media_inline_ok("image/pngx"));
	assert_false(mx_media_inline_ok("image/pn"));
	assert_false(mx_media_inline_ok(NULL));
}

static void test_disposition(void **state)
{
	struct mx_arena a;
	mx_arena_init(&a);
	assert_string_equal(mx_media_disposition(&a, "image/png", NULL), "inline");
	assert_string_equal(mx_media_disposition(&a, "text/html", ""), "attachment");
	assert_string_equal(mx_media_disposition(&a, "image/png", "cat.png"),
			    "inline; filename=\"cat.png\"");
	assert_string_equal(mx_media_disposition(&a, "text/html", "x.html"),
			    "attachment; filename=\"x.html\"");
	/* Quotes, backslashes and non-ASCII go through RFC 5987 encoding. */
	assert_string_equal(mx_media_disposition(&a, "image/png", "a\"b.png"),
			    "inline; filename*=utf-8''a%22b.png");
	assert_string_equal(mx_media_disposition(&a, "application/pdf", "\xc3\xa9t\xc3\xa9 1.pdf"),
			    "attachment; filename*=utf-8''%C3%A9t%C3%A9%201.pdf");
	/* A name that could split the header is dropped. */
	assert_string_equal(mx_media_disposition(&a, "text/plain", "a\r\nb"), "inline");
	assert_string_equal(mx_media_disposition(&a, "text/plain", "\xff"), "inline");
	mx_arena_release(&a);
}

static int count_files(const char *dir)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "find '%s' -type f | wc -l", dir);
	FILE *f = popen(cmd, "r");
	int n = -1;
	if (f) {
		if (fscanf(f, "%d", &n) != 1)
			n = -1;
		pclose(f);
	}
	return n;
}

static void test_store(void **state)
{
	char dir[] = "/tmp/mx-media-test-XXXXXX";
	assert_non_null(mkdtemp(dir));
	struct mx_media_upload *u;
	char sha1[65], sha2[65];
	uint64_t size;
	assert_int_equal(mx_media_upload_begin(dir, &u), 0);
	assert_int_equal(mx_media_upload_write(u, "hello ", 6), 0);
	assert_int_equal(mx_media_upload_write(u, "world", 5), 0);
	assert_int_equal(mx_media_upload_finish(u, dir, sha1, &size), 0);
	assert_int_equal(size, 11);
	assert_string_equal(sha1, "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9");
	/* The same bytes again: one file. */
	assert_int_equal(mx_media_upload_begin(dir, &u), 0);
	assert_int_equal(mx_media_upload_write(u, "hello world", 11), 0);
	assert_int_equal(mx_media_upload_finish(u, dir, sha2, &size), 0);
	assert_string_equal(sha1, sha2);
	assert_int_equal(count_files(dir), 1);
	/* Zero bytes are a valid upload. */
	assert_int_equal(mx_media_upload_begin(dir, &u), 0);
	assert_int_equal(mx_media_upload_finish(u, dir, sha2, &size), 0);
	assert_int_equal(size, 0);
	assert_string_equal(sha2, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	/* An aborted upload leaves nothing. */
	assert_int_equal(mx_media_upload_begin(dir, &u), 0);
	assert_int_equal(mx_media_upload_write(u, "partial", 7), 0);
	mx_media_upload_abort(u);
	assert_int_equal(count_files(dir), 2);
	struct mx_arena a;
	mx_arena_init(&a);
	struct stat st;
	assert_int_equal(stat(mx_media_content_path(&a, dir, sha1), &st), 0);
	assert_int_equal(st.st_size, 11);
	/* Not an image: the probe refuses it without a decoder. */
	int w, h;
	const char *type;
	assert_int_not_equal(mx_thumbnail_probe(mx_media_content_path(&a, dir, sha1), &w, &h, &type),
			     0);
	mx_arena_release(&a);
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	mx_rand_init();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_media_id),
		cmocka_unit_test(test_content_type),
		cmocka_unit_test(test_inline),
		cmocka_unit_test(test_disposition),
		cmocka_unit_test(test_store),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
