/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Thumbnails with libvips. Only JPEG, PNG, GIF and WebP are decoded (the
 * loaders libvips marks trusted; SVG, PDF and friends are never handed
 * to a decoder), and an image's size is read from its header before
 * anything is decoded, so a decompression bomb is refused cheaply.
 * SPEC: client-server-api#thumbnails
 */
#ifndef MX_MEDIA_THUMBNAIL_H
#define MX_MEDIA_THUMBNAIL_H

#include <stdbool.h>
#include <stdint.h>

/*
 * Read an image file's header: its pixel size and type ("image/png",
 * "image/jpeg", "image/gif", "image/webp"; static). MX_EINVALID if it is
 * not an image of those types or its header is broken.
 */
int mx_thumbnail_probe(const char *path, int *width, int *height, const char **type);

/*
 * Make a thumbnail of src (probed as src_type) no larger than width x
 * height: "crop" fills the box exactly and crops the centre, "scale"
 * keeps the aspect ratio inside the box; never upscales. Writes it to dst
 * atomically (a temp beside it, then rename) as JPEG for JPEG sources
 * and PNG otherwise; *type is the result's type. MX_ETOOLARGE if the
 * image has more than max_pixels pixels, MX_EINVALID if it cannot be
 * decoded (truncated or fake), MX_EIO if dst cannot be written.
 */
int mx_thumbnail_make(const char *src, const char *dst, int width, int height, bool crop,
		      int64_t max_pixels, const char **type);

/*
 * The number of frames of an image (GIF and WebP may hold several; 1 for
 * the others, or when the header does not say). Reads the header only.
 */
int mx_thumbnail_pages(const char *path);

/*
 * As mx_thumbnail_make, keeping every frame of an animated GIF or WebP:
 * the result is an animated WebP (*type "image/webp") with the source's
 * frame count, delays and loop. "scale" fits each frame in width x height;
 * "crop" crops every frame alike, as mx_thumbnail_make crops a still (the
 * box exactly unless a frame is smaller than it). MX_EINVALID if src is
 * not animated (the caller makes a static one instead) or cannot be
 * decoded, MX_ETOOLARGE if frames x pixels exceed max_pixels.
 * SPEC: client-server-api#get_matrixclientv1mediathumbnailservernamemediaid (animated)
 */
int mx_thumbnail_make_animated(const char *src, const char *dst, int width, int height,
			       bool crop, int64_t max_pixels, const char **type);

/* The type mx_thumbnail_make produces for a source type (static). */
const char *mx_thumbnail_type_for(const char *src_type);

#endif
