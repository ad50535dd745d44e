/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for media/thumbnail on animations: an animated GIF is made
 * here with libvips (frames of different colours stacked with page-height
 * set), and its animated thumbnails are checked frame by frame. A crop
 * must fill the box exactly in every frame (libvips 8.14 alone would crop
 * the whole strip and keep one frame), keep the frame count, order and
 * delays; a scale must fit the box; frames x pixels over max_pixels is
 * refused, and a still image is no animation.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <vips/vips.h>

#include "core/error.h"
#include "core/rand.h"
#include "media/thumbnail.h"

#define FRAMES 4
static const double colours[FRAMES][3] = {
	{220, 20, 20}, {20, 200, 20}, {20, 20, 220}, {230, 230, 230},
};
static const int delays[FRAMES] = {100, 200, 300, 400};

struct fixture {
	char dir[64];
	char gif[96], still[96], out[96];
};

/* Write an animated GIF of FRAMES solid frames of w x h to path. */
static void make_gif(const char *path, int w, int h)
{
	VipsImage *frames[FRAMES];
	for (int i = 0; i < FRAMES; i++) {
		VipsImage *black, *lit;
		double a[3] = {1, 1, 1};
		assert_int_equal(vips_black(&black, w, h, "bands", 3, NULL), 0);
		assert_int_equal(vips_linear(black, &lit, a, (double *)colours[i], 3, NULL), 0);
		assert_int_equal(vips_cast(lit, &frames[i], VIPS_FORMAT_UCHAR, NULL), 0);
		g_object_unref(black);
		g_object_unref(lit);
	}
	VipsImage *strip, *anim;
	assert_int_equal(vips_arrayjoin(frames, &strip, FRAMES, "across", 1, NULL), 0);
	assert_int_equal(vips_copy(strip, &anim, NULL), 0);
	vips_image_set_int(anim, VIPS_META_PAGE_HEIGHT, h);
	vips_image_set_array_int(anim, "delay", delays, FRAMES);
	vips_image_set_int(anim, "loop", 0);
	void *buf;
	size_t len;
	assert_int_equal(vips_gifsave_buffer(anim, &buf, &len, NULL), 0);
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(buf, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
	g_free(buf);
	g_object_unref(anim);
	g_object_unref(strip);
	for (int i = 0; i < FRAMES; i++)
		g_object_unref(frames[i]);
}

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/mx-thumb-test-XXXXXX");
	if (!mkdtemp(fx->dir))
		return -1;
	snprintf(fx->gif, sizeof(fx->gif), "%s/anim.gif", fx->dir);
	snprintf(fx->still, sizeof(fx->still), "%s/still.png", fx->dir);
	snprintf(fx->out, sizeof(fx->out), "%s/thumb", fx->dir);
	/* The probe starts libvips; it fails harmlessly on a missing file. */
	int w, h;
	const char *type;
	(void)mx_thumbnail_probe(fx->gif, &w, &h, &type);
	make_gif(fx->gif, 60, 40);
	VipsImage *still;
	if (vips_black(&still, 60, 40, NULL) || vips_pngsave(still, fx->still, NULL))
		return -1;
	g_object_unref(still);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	unlink(fx->gif);
	unlink(fx->still);
	unlink(fx->out);
	rmdir(fx->dir);
	free(fx);
	return 0;
}

/* Load every frame of a thumbnail; checks the frame size and count. */
static VipsImage *load_frames(const char *path, int w, int h, int frames)
{
	VipsImage *im = vips_image_new_from_file(path, "n", -1, NULL);
	assert_non_null(im);
	assert_int_equal(vips_image_get_width(im), w);
	assert_int_equal(vips_image_get_page_height(im), h);
	assert_int_equal(vips_image_get_height(im), h * frames);
	assert_int_equal(vips_image_get_n_pages(im), frames);
	return im;
}

/* The centre pixel of frame i is near colour c (lossy WebP). */
static void assert_frame_colour(VipsImage *im, int i, const double c[3])
{
	int w = vips_image_get_width(im), ph = vips_image_get_page_height(im);
	double *px;
	int n;
	assert_int_equal(vips_getpoint(im, &px, &n, w / 2, i * ph + ph / 2, NULL), 0);
	assert_true(n >= 3);
	for (int b = 0; b < 3; b++)
		if (px[b] < c[b] - 24 || px[b] > c[b] + 24)
			fail_msg("frame %d band %d: %g, expected about %g", i, b, px[b], c[b]);
	g_free(px);
}

static void test_animated_crop(void **state)
{
	struct fixture *fx = *state;
	/* Square, wide and tall boxes, all smaller than the 60 x 40 frames. */
	static const int boxes[][2] = {{16, 16}, {30, 10}, {12, 32}, {59, 39}};
	for (size_t b = 0; b < sizeof(boxes) / sizeof(boxes[0]); b++) {
		int bw = boxes[b][0], bh = boxes[b][1];
		const char *type = NULL;
		unlink(fx->out);
		assert_int_equal(mx_thumbnail_make_animated(fx->gif, fx->out, bw, bh, true, 1 << 24,
							    &type),
				 0);
		assert_string_equal(type, "image/webp");
		int w, h;
		const char *probed;
		assert_int_equal(mx_thumbnail_probe(fx->out, &w, &h, &probed), 0);
		assert_string_equal(probed, "image/webp");
		assert_int_equal(mx_thumbnail_pages(fx->out), FRAMES);
		VipsImage *im = load_frames(fx->out, bw, bh, FRAMES);
		/* Every frame is its own source frame, in order: they differ. */
		for (int i = 0; i < FRAMES; i++)
			assert_frame_colour(im, i, colours[i]);
		int *d, nd;
		assert_int_equal(vips_image_get_array_int(im, "delay", &d, &nd), 0);
		assert_int_equal(nd, FRAMES);
		for (int i = 0; i < FRAMES; i++)
			assert_int_equal(d[i], delays[i]);
		g_object_unref(im);
	}
}

/* A box larger than the frame in one direction: never upscaled, so the
 * frames are cropped only where they overflow, as a static crop is. */
static void test_animated_crop_no_upscale(void **state)
{
	struct fixture *fx = *state;
	const char *type;
	unlink(fx->out);
	assert_int_equal(mx_thumbnail_make_animated(fx->gif, fx->out, 32, 64, true, 1 << 24, &type),
			 0);
	VipsImage *im = load_frames(fx->out, 32, 40, FRAMES);
	for (int i = 0; i < FRAMES; i++)
		assert_frame_colour(im, i, colours[i]);
	g_object_unref(im);
}

static void test_animated_scale(void **state)
{
	struct fixture *fx = *state;
	const char *type;
	unlink(fx->out);
	assert_int_equal(mx_thumbnail_make_animated(fx->gif, fx->out, 30, 30, false, 1 << 24, &type),
			 0);
	assert_string_equal(type, "image/webp");
	VipsImage *im = load_frames(fx->out, 30, 20, FRAMES);
	for (int i = 0; i < FRAMES; i++)
		assert_frame_colour(im, i, colours[i]);
	g_object_unref(im);
}

static void test_animated_limits(void **state)
{
	struct fixture *fx = *state;
	const char *type;
	unlink(fx->out);
	/* One frame fits max_pixels, all four do not. */
	assert_int_equal(mx_thumbnail_make_animated(fx->gif, fx->out, 16, 16, true,
						    60 * 40 * FRAMES - 1, &type),
			 MX_ETOOLARGE);
	assert_int_equal(mx_thumbnail_make_animated(fx->gif, fx->out, 16, 16, false,
						    60 * 40 * FRAMES - 1, &type),
			 MX_ETOOLARGE);
	assert_int_not_equal(access(fx->out, F_OK), 0);
	assert_int_equal(mx_thumbnail_make_animated(fx->gif, fx->out, 16, 16, true,
						    60 * 40 * FRAMES, &type),
			 0);
	/* A still image is not animated: the caller makes a static one. */
	assert_int_equal(mx_thumbnail_pages(fx->still), 1);
	assert_int_equal(mx_thumbnail_make_animated(fx->still, fx->out, 16, 16, true, 1 << 24,
						    &type),
			 MX_EINVALID);
	/* A static crop of the animation is one frame of the box. */
	unlink(fx->out);
	assert_int_equal(mx_thumbnail_make(fx->gif, fx->out, 16, 16, true, 1 << 24, &type), 0);
	assert_string_equal(type, "image/png");
	int w, h;
	assert_int_equal(mx_thumbnail_probe(fx->out, &w, &h, &type), 0);
	assert_int_equal(w, 16);
	assert_int_equal(h, 16);
	assert_int_equal(mx_thumbnail_pages(fx->out), 1);
}

int main(void)
{
	if (mx_rand_init())
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_animated_crop),
		cmocka_unit_test(test_animated_crop_no_upscale),
		cmocka_unit_test(test_animated_scale),
		cmocka_unit_test(test_animated_limits),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
