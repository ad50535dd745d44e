/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The user directory: one searchable entry per user (user id, the display
 * name and avatar we show, and the same text folded for matching), plus
 * the rooms whose members anyone may find. Who may find whom is not
 * stored: a search joins the entries with the current room memberships, so
 * it is never stale; only the folded text and the public-room flags are
 * kept up to date, by the callers below.
 *
 * Folding makes the match case- and accent-insensitive: NFKD, Unicode case
 * folding (so "ß" matches "ss"), combining marks and default-ignorable
 * characters dropped, a few letters with strokes that Unicode does not
 * decompose mapped to their base letter (ø, ł, đ, ...), then the text is
 * cut into words of letters and digits. Search terms are folded the same
 * way and each of their words must be the start of some word of a user's
 * localpart, server name or display name.
 *
 * Entries: a local user's come from their global profile (per-room names
 * are never shown: they may be private to a room); a remote user's from
 * their latest join event that we saw. Visibility, as Synapse's default
 * (user_directory.search_all_users false): users who share a joined room
 * with the searcher, and users joined to a public room (join rule
 * "public", history "world_readable", or published in the room
 * directory). Deactivated users are never found.
 * SPEC: client-server-api#user-directory
 */
#ifndef MX_STORE_USER_DIRECTORY_H
#define MX_STORE_USER_DIRECTORY_H

#include <stdbool.h>
#include <stddef.h>

struct mx_arena;
struct mx_db;
struct mx_db_conn;

/* Synapse's cap on a search's limit; and its default. */
#define MX_USER_DIRECTORY_LIMIT_MAX 50
#define MX_USER_DIRECTORY_LIMIT_DEFAULT 10
/* Only this many bytes of a name are folded (longer names are cut at a
 * character boundary); a search term's words past MAX_WORDS are ignored. */
#define MX_USER_DIRECTORY_TEXT_MAX 1024
#define MX_USER_DIRECTORY_MAX_WORDS 32

/*
 * Fold s (len bytes of UTF-8, at most MX_USER_DIRECTORY_TEXT_MAX of them
 * are used) into its words separated by single spaces, e.g. "José
 * Müller-Straße" -> "jose muller strasse"; "" if it has no letters or
 * digits. *out is heap memory the caller frees. 0, or MX_EINVALID if s is
 * not valid UTF-8 (*out NULL).
 */
int mx_store_user_directory_fold(const char *s, size_t len, char **out);

/*
 * Bring user_id's entry up to date, in one durable write that changes
 * nothing if nothing changed. A local user (one with an account) gets
 * their global displayname and avatar_url, or loses the entry when
 * deactivated. Anyone else gets the displayname and avatar_url of their
 * current member event in room_id if that is a join (room_id NULL: no
 * change). Returns 0 or a db error.
 */
int mx_store_user_directory_refresh_user(struct mx_db *db, const char *user_id,
					 const char *room_id);

/*
 * Recompute whether room_id is public for the directory from its current
 * join rules and history visibility. One durable write, none if unchanged.
 */
int mx_store_user_directory_refresh_room(struct mx_db *db, const char *room_id);

/*
 * Start-up: add the entries that are missing (accounts, remote members of
 * rooms) and the public flags of rooms never looked at, e.g. after an
 * upgrade or a crash between persisting an event and its listener. Entries
 * that exist are left alone. One durable write.
 */
int mx_store_user_directory_populate(struct mx_db *db);

struct mx_store_user_directory_hit {
	const char *user_id;
	const char *display_name; /* NULL if none */
	const char *avatar_url;   /* NULL if none */
};

/*
 * The users visible to searcher whose entry matches term (len bytes of
 * UTF-8), best first: the exact user id, then the localpart equal to the
 * term, then starting with it, then the display name equal to it, then
 * starting with it, then any other match; ties prefer users with a display
 * name, then with an avatar, then by user id. At most limit (1..50) hits;
 * *limited tells if there were more. A term without letters or digits
 * matches nobody. Hits live in arena a. 0, MX_EINVALID (term is not
 * UTF-8) or a db error.
 */
int mx_store_user_directory_search(struct mx_db_conn *c, struct mx_arena *a,
				   const char *searcher, const char *term, size_t len, int limit,
				   struct mx_store_user_directory_hit **hits, size_t *n,
				   bool *limited);

#endif
