/* SPDX-License-Identifier: Apache-2.0 */
/* `myelin media purge` (admin/media_cli.h). */
#include "admin/media_cli.h"

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/arena.h"
#include "core/config.h"
#include "core/error.h"
#include "db/db.h"
#include "media/media.h"
#include "store/media.h"

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm). */
static int64_t mx_days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

int mx_cli_media_parse_date(const char *s, int64_t *ms)
{
	static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	char *end;
	if (!*s)
		return MX_EINVALID;
	if (strlen(s) == 10 && s[4] == '-' && s[7] == '-') {
		int y = 0, m = 0, d = 0;
		for (int i = 0; i < 10; i++) {
			if (i == 4 || i == 7)
				continue;
			if (s[i] < '0' || s[i] > '9')
				return MX_EINVALID;
			int v = s[i] - '0';
			if (i < 4)
				y = y * 10 + v;
			else if (i < 7)
				m = m * 10 + v;
			else
				d = d * 10 + v;
		}
		if (m < 1 || m > 12 || d < 1 || d > mdays[m - 1])
			return MX_EINVALID;
		*ms = mx_days_from_civil(y, m, d) * 86400000LL;
		return 0;
	}
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (*end || errno || v < 0)
		return MX_EINVALID;
	*ms = v;
	return 0;
}

/* Remove a thumbnail directory's files and the directory. Count of files removed. */
static int mx_cli_media_rm_thumbs(const char *dir)
{
	DIR *d = opendir(dir);
	int n = 0;
	if (!d)
		return 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char path[4096];
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (!unlink(path))
			n++;
	}
	closedir(d);
	rmdir(dir);
	return n;
}

static int mx_cli_media_purge(const char *config_path, int64_t before)
{
	char err[1024] = "";
	struct mx_config cfg;
	struct mx_db *db = NULL;
	struct mx_arena a;
	int ret = 1;
	mx_arena_init(&a);
	if (mx_config_load(&cfg, config_path, err, sizeof(err))) {
		fprintf(stderr, "myelin media purge: %s\n", err);
		mx_arena_release(&a);
		return 1;
	}
	if (mx_db_open(&db, &cfg, err, sizeof(err))) {
		fprintf(stderr, "myelin media purge: %s\n", err);
		goto out;
	}
	struct mx_media_purged p;
	int rc = mx_store_media_purge(db, &a, before, &p);
	if (rc) {
		fprintf(stderr, "myelin media purge: database error (%d)\n", rc);
		goto out;
	}
	for (size_t i = 0; i < p.n_media; i++)
		printf("removed media mxc://%s/%s\n", cfg.server_name, p.media_ids[i]);
	int files = 0, thumbs = 0;
	for (size_t i = 0; i < p.n_orphans; i++) {
		const char *sha = p.orphans[i];
		const char *path = mx_media_content_path(&a, cfg.media_store_path, sha);
		if (!unlink(path)) {
			printf("removed file %s\n", path);
			files++;
		} else if (errno != ENOENT) {
			fprintf(stderr, "myelin media purge: cannot remove %s: %s\n", path,
				strerror(errno));
		}
		const char *tdir = mx_arena_printf(&a, "%s/thumbnails/%.2s/%.2s/%s",
						   cfg.media_store_path, sha, sha + 2, sha);
		thumbs += mx_cli_media_rm_thumbs(tdir);
	}
	printf("purged %zu media, %zu cached remote media, %d files, %d thumbnails, "
	       "%lld cached URL previews\n",
	       p.n_media, p.n_remote, files, thumbs, (long long)p.n_previews);
	ret = 0;
out:
	if (db)
		mx_db_close(db);
	mx_config_release(&cfg);
	mx_arena_release(&a);
	return ret;
}

int mx_cli_media(int argc, char **argv)
{
	static const struct option opts[] = {
		{"before", required_argument, NULL, 'b'},
		{"config", required_argument, NULL, 'c'},
		{NULL, 0, NULL, 0},
	};
	const char *config = "homeserver.yaml", *before_s = NULL;
	if (argc < 2 || strcmp(argv[1], "purge")) {
		fprintf(stderr, "usage: myelin media purge --before DATE [-c FILE]\n");
		return 2;
	}
	int c;
	optind = 1;
	while ((c = getopt_long(argc - 1, argv + 1, "b:c:", opts, NULL)) != -1) {
		switch (c) {
		case 'b': before_s = optarg; break;
		case 'c': config = optarg; break;
		default:
			fprintf(stderr, "usage: myelin media purge --before DATE [-c FILE]\n");
			return 2;
		}
	}
	int64_t before;
	if (!before_s || mx_cli_media_parse_date(before_s, &before)) {
		fprintf(stderr, "myelin media purge: --before YYYY-MM-DD or unix milliseconds "
				"is required\n");
		return 2;
	}
	return mx_cli_media_purge(config, before);
}
