/* SPDX-License-Identifier: Apache-2.0 */
/* libvips glue for thumbnails; see thumbnail.h. */
#include "media/thumbnail.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <vips/vips.h>

#include "core/error.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/rand.h"

static pthread_once_t mx_thumbnail_once = PTHREAD_ONCE_INIT;
static bool mx_thumbnail_ready;

static void mx_thumbnail_init(void)
{
	if (VIPS_INIT("myelin")) {
		mx_log_error("libvips failed to start: thumbnails disabled");
		return;
	}
	/* Untrusted loaders (ImageMagick, PDF, SVG, ...) are off for good. */
	vips_block_untrusted_set(TRUE);
	vips_cache_set_max(0);
	vips_concurrency_set(1);
	mx_thumbnail_ready = true;
}

static const struct {
	const char *loader; /* vips_foreign_find_load's answer */
	const char *type;
} mx_thumbnail_loaders[] = {
	{"VipsForeignLoadJpegFile", "image/jpeg"},
	{"VipsForeignLoadPngFile", "image/png"},
	{"VipsForeignLoadPng", "image/png"},
	{"VipsForeignLoadNsgifFile", "image/gif"},
	{"VipsForeignLoadGifFile", "image/gif"},
	{"VipsForeignLoadWebpFile", "image/webp"},
};

int mx_thumbnail_probe(const char *path, int *width, int *height, const char **type)
{
	pthread_once(&mx_thumbnail_once, mx_thumbnail_init);
	if (!mx_thumbnail_ready)
		return MX_EINVALID;
	const char *loader = vips_foreign_find_load(path);
	*type = NULL;
	for (size_t i = 0; loader && i < MX_ARRAY_LEN(mx_thumbnail_loaders); i++)
		if (!strcmp(loader, mx_thumbnail_loaders[i].loader))
			*type = mx_thumbnail_loaders[i].type;
	if (!*type) {
		vips_error_clear();
		return MX_EINVALID;
	}
	/* Opening is lazy: only the header is read here. */
	VipsImage *im = vips_image_new_from_file(path, "access", VIPS_ACCESS_SEQUENTIAL,
						 "fail_on", VIPS_FAIL_ON_ERROR, NULL);
	if (!im) {
		vips_error_clear();
		return MX_EINVALID;
	}
	*width = vips_image_get_width(im);
	*height = vips_image_get_height(im);
	g_object_unref(im);
	return *width > 0 && *height > 0 ? 0 : MX_EINVALID;
}

const char *mx_thumbnail_type_for(const char *src_type)
{
	return src_type && !strcmp(src_type, "image/jpeg") ? "image/jpeg" : "image/png";
}

int mx_thumbnail_pages(const char *path)
{
	int w, h;
	const char *type;
	if (mx_thumbnail_probe(path, &w, &h, &type) ||
	    (strcmp(type, "image/gif") && strcmp(type, "image/webp")))
		return 1;
	VipsImage *im = vips_image_new_from_file(path, "access", VIPS_ACCESS_SEQUENTIAL, NULL);
	if (!im) {
		vips_error_clear();
		return 1;
	}
	int n = vips_image_get_n_pages(im);
	g_object_unref(im);
	return n > 1 ? n : 1;
}

/*
 * Crop every frame of an animation (a tall image of page-height frames) to
 * the box the same way. libvips 8.14's thumbnail would crop the whole
 * strip as one picture, keeping about one frame, so each page is cut out
 * and thumbnailed on its own, exactly as a static crop of it would be, and
 * the frames are stacked again. The pipeline stays lazy and in frame order,
 * so a sequentially loaded source is decoded once, frame after frame.
 * Frame metadata (delay, loop) comes along from the source; page-height
 * becomes the new frame height.
 */
static int mx_thumbnail_crop_frames(VipsImage *in, int width, int height, VipsImage **out)
{
	int w = vips_image_get_width(in), ph = vips_image_get_page_height(in);
	int n = vips_image_get_height(in) / ph;
	VipsImage **frames = mx_xcalloc((size_t)n, sizeof(*frames));
	VipsImage *joined = NULL;
	int rc = MX_EINVALID;
	*out = NULL;
	for (int i = 0; i < n; i++) {
		VipsImage *page;
		if (vips_extract_area(in, &page, 0, i * ph, w, ph, NULL))
			goto out;
		/* The page is one frame now: no page-height to mislead thumbnail. */
		vips_image_remove(page, VIPS_META_PAGE_HEIGHT);
		vips_image_remove(page, VIPS_META_N_PAGES);
		int vrc = vips_thumbnail_image(page, &frames[i], width, "height", height, "size",
					       VIPS_SIZE_DOWN, "crop", VIPS_INTERESTING_CENTRE, NULL);
		g_object_unref(page); /* the thumbnail holds its own reference */
		if (vrc)
			goto out;
		if (vips_image_get_width(frames[i]) != vips_image_get_width(frames[0]) ||
		    vips_image_get_height(frames[i]) != vips_image_get_height(frames[0]))
			MX_BUG("frames of one animation cropped to different sizes");
	}
	if (vips_arrayjoin(frames, &joined, n, "across", 1, NULL) || vips_copy(joined, out, NULL))
		goto out;
	vips_image_set_int(*out, VIPS_META_PAGE_HEIGHT, vips_image_get_height(frames[0]));
	vips_image_set_int(*out, VIPS_META_N_PAGES, n);
	rc = 0;
out:
	for (int i = 0; i < n; i++)
		if (frames[i])
			g_object_unref(frames[i]);
	free(frames);
	if (joined)
		g_object_unref(joined);
	return rc;
}

/*
 * Both makers. An animated source is loaded with all its pages (n=-1) as
 * one tall image with page-height metadata; vips_thumbnail scales each
 * frame (crops go frame by frame, above) and webpsave writes an animation
 * from it.
 */
static int mx_thumbnail_run(const char *src, const char *dst, int width, int height, bool crop,
			    int64_t max_pixels, bool animated, const char **type)
{
	int w, h, rc;
	const char *src_type;
	VipsImage *in = NULL, *out = NULL;
	char *tmp = NULL;
	if ((rc = mx_thumbnail_probe(src, &w, &h, &src_type)))
		return rc;
	int pages = animated ? mx_thumbnail_pages(src) : 1;
	if (animated && pages < 2)
		return MX_EINVALID;
	/* Every frame is decoded: bound the work by frames x pixels. */
	if ((int64_t)w * h > max_pixels || (int64_t)w * h * pages > max_pixels)
		return MX_ETOOLARGE;
	*type = animated ? "image/webp" : mx_thumbnail_type_for(src_type);
	/* fail_on error: a truncated file is an error, not a grey half image. */
	VipsInteresting how = crop ? VIPS_INTERESTING_CENTRE : VIPS_INTERESTING_NONE;
	if (animated) {
		/* This libvips takes loader options only in the file name, which
		 * could be misread: load all pages here and thumbnail the image
		 * (GIF and WebP have no shrink-on-load to lose). */
		in = vips_image_new_from_file(src, "n", -1, "access", VIPS_ACCESS_SEQUENTIAL,
					      "fail_on", VIPS_FAIL_ON_ERROR, NULL);
		if (!in || (crop ? mx_thumbnail_crop_frames(in, width, height, &out)
				 : vips_thumbnail_image(in, &out, width, "height", height, "size",
							VIPS_SIZE_DOWN, "crop", how, NULL))) {
			rc = MX_EINVALID;
			goto out;
		}
	} else if (vips_thumbnail(src, &out, width, "height", height, "size", VIPS_SIZE_DOWN,
				  "crop", how, "fail_on", VIPS_FAIL_ON_ERROR, NULL)) {
		rc = MX_EINVALID;
		goto out;
	}
	char name[17];
	mx_rand_token(name, sizeof(name));
	tmp = mx_xasprintf("%s.%s.tmp", dst, name);
	int vrc = animated ? vips_webpsave(out, tmp, "Q", 75, "strip", TRUE, NULL)
		  : !strcmp(*type, "image/jpeg")
			  ? vips_jpegsave(out, tmp, "Q", 80, "strip", TRUE, NULL)
			  : vips_pngsave(out, tmp, "compression", 6, "strip", TRUE, NULL);
	if (vrc || rename(tmp, dst)) {
		/* A decoding failure surfaces here: the pipeline runs at save. */
		rc = vrc ? MX_EINVALID : MX_EIO;
		unlink(tmp);
		goto out;
	}
	rc = 0;
out:
	if (rc)
		vips_error_clear();
	if (out)
		g_object_unref(out);
	if (in)
		g_object_unref(in);
	free(tmp);
	return rc;
}

int mx_thumbnail_make(const char *src, const char *dst, int width, int height, bool crop,
		      int64_t max_pixels, const char **type)
{
	return mx_thumbnail_run(src, dst, width, height, crop, max_pixels, false, type);
}

int mx_thumbnail_make_animated(const char *src, const char *dst, int width, int height,
			       bool crop, int64_t max_pixels, const char **type)
{
	return mx_thumbnail_run(src, dst, width, height, crop, max_pixels, true, type);
}
