/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `myelin media purge --before DATE [-c FILE]`: reclaim disk space from
 * the content repository offline (or beside a running server: the
 * database serialises the writes). Deletes the local media rows neither
 * downloaded nor created since DATE, then the files and thumbnails of
 * every hash no remaining row names (files are content-addressed and
 * shared), and the URL preview cache older than DATE. Myelin keeps no
 * remote media cache yet, so there is none to purge.
 */
#ifndef MX_ADMIN_MEDIA_CLI_H
#define MX_ADMIN_MEDIA_CLI_H

#include <stdint.h>

/*
 * Parse DATE: YYYY-MM-DD (midnight UTC) or a number of milliseconds since
 * the epoch. 0 with *ms set, or MX_EINVALID.
 */
int mx_cli_media_parse_date(const char *s, int64_t *ms);

/*
 * Run the command; argv[0] is "media". Prints each removed media id and
 * file, then a summary. 0 on success, 1 on failure, 2 on a usage error.
 */
int mx_cli_media(int argc, char **argv);

#endif
