/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The user directory in SQL. Each entry keeps its folded words three ways:
 * local_text (the localpart's words), name_text (the display name's) and
 * search_text, every word of localpart, server name and display name with
 * a space before and after each, so that "does some word start with w" is
 * `search_text LIKE '% w%'`: portable SQL (SQLite and PostgreSQL alike),
 * no full-text extension needed. The LIKE runs only over the users the
 * searcher may see (a CTE over current_state), so its cost follows the
 * searcher's rooms and the public rooms, not the size of the directory.
 *
 * Writes compare before writing: a refresh that changes nothing writes no
 * page, so the room listener may call them for every join.
 */
#include "store/user_directory.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "core/arena.h"
#include "core/error.h"
#include "core/mem.h"
#include "db/db.h"

/* ---- folding ---- */

/*
 * Letters (already case-folded) that Unicode gives no decomposition, so
 * NFKD keeps them whole, but that readers of Latin scripts type without
 * their stroke. Sorted by code point.
 */
static const struct {
	int32_t cp;
	const char *to;
} mx_ud_letters[] = {
	{0x00e6, "ae"}, /* æ */
	{0x00f0, "d"},  /* ð */
	{0x00f8, "o"},  /* ø */
	{0x00fe, "th"}, /* þ */
	{0x0111, "d"},  /* đ */
	{0x0127, "h"},  /* ħ */
	{0x0131, "i"},  /* ı */
	{0x0142, "l"},  /* ł */
	{0x0153, "oe"}, /* œ */
	{0x0167, "t"},  /* ŧ */
};

static const char *mx_ud_letter(int32_t cp)
{
	for (size_t i = 0; i < sizeof(mx_ud_letters) / sizeof(mx_ud_letters[0]); i++)
		if (mx_ud_letters[i].cp == cp)
			return mx_ud_letters[i].to;
	return NULL;
}

/* Letters, marks and digits make words; everything else separates them. */
static bool mx_ud_is_word_char(int32_t cp)
{
	utf8proc_category_t cat = utf8proc_category(cp);
	return cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_NO;
}

int mx_store_user_directory_fold(const char *s, size_t len, char **out)
{
	*out = NULL;
	if (len > MX_USER_DIRECTORY_TEXT_MAX) {
		len = MX_USER_DIRECTORY_TEXT_MAX;
		/* Cut before a continuation byte's character, not inside it. */
		while (len > 0 && ((unsigned char)s[len] & 0xc0) == 0x80)
			len--;
	}
	utf8proc_uint8_t *mapped = NULL;
	/* SPEC: client-server-api#user-directory leaves matching to the server;
	 * NFKD + case folding + marks stripped is the accent-insensitive match
	 * that Synapse describes (and leaves commented out) in its index filter. */
	utf8proc_ssize_t n = utf8proc_map((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)len, &mapped,
					  UTF8PROC_STABLE | UTF8PROC_COMPAT | UTF8PROC_DECOMPOSE |
						  UTF8PROC_CASEFOLD | UTF8PROC_STRIPMARK |
						  UTF8PROC_IGNORE);
	if (n < 0)
		return MX_EINVALID;
	/* The output only shrinks: separators collapse to one space and each
	 * letter of mx_ud_letters is no shorter than its replacement. */
	char *r = mx_xmalloc((size_t)n + 1);
	size_t o = 0;
	bool in_word = false;
	for (utf8proc_ssize_t i = 0; i < n;) {
		int32_t cp;
		utf8proc_ssize_t k = utf8proc_iterate(mapped + i, n - i, &cp);
		if (k <= 0) { /* cannot happen on utf8proc's own output */
			free(mapped);
			free(r);
			return MX_EINVALID;
		}
		if (!mx_ud_is_word_char(cp)) {
			in_word = false;
			i += k;
			continue;
		}
		if (!in_word && o > 0)
			r[o++] = ' ';
		in_word = true;
		const char *to = mx_ud_letter(cp);
		if (to) {
			size_t tl = strlen(to);
			memcpy(r + o, to, tl);
			o += tl;
		} else {
			memcpy(r + o, mapped + i, (size_t)k);
			o += (size_t)k;
		}
		i += k;
	}
	r[o] = '\0';
	free(mapped);
	*out = r;
	return 0;
}

/* ---- entries ---- */

static bool mx_ud_streq(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

/* The folded texts of one entry; heap strings, mx_ud_texts_release frees. */
struct mx_ud_texts {
	char *local;  /* localpart words */
	char *name;   /* display name words, NULL without a display name */
	char *search; /* " w1 w2 ... " */
};

static void mx_ud_texts_release(struct mx_ud_texts *t)
{
	free(t->local);
	free(t->name);
	free(t->search);
}

static void mx_ud_append_words(char *dst, size_t *o, const char *words)
{
	size_t l = strlen(words);
	if (!l)
		return;
	memcpy(dst + *o, words, l);
	*o += l;
	dst[(*o)++] = ' ';
}

/* Fold user_id's localpart and server name and display_name (may be NULL). */
static int mx_ud_texts_make(const char *user_id, const char *display_name, struct mx_ud_texts *t)
{
	memset(t, 0, sizeof(*t));
	const char *lp = user_id[0] == '@' ? user_id + 1 : user_id;
	size_t lp_len = strcspn(lp, ":");
	const char *server = lp[lp_len] == ':' ? lp + lp_len + 1 : "";
	char *server_words = NULL;
	int rc = mx_store_user_directory_fold(lp, lp_len, &t->local);
	if (!rc)
		rc = mx_store_user_directory_fold(server, strlen(server), &server_words);
	/* A display name that is not valid UTF-8 cannot come from JSON; if the
	 * database holds one anyway, the user is still found by id. */
	if (!rc && display_name &&
	    mx_store_user_directory_fold(display_name, strlen(display_name), &t->name))
		t->name = NULL;
	if (rc) {
		free(server_words);
		mx_ud_texts_release(t);
		return rc;
	}
	size_t cap = 1 + strlen(t->local) + 1 + strlen(server_words) + 1 +
		     (t->name ? strlen(t->name) : 0) + 1 + 1;
	t->search = mx_xmalloc(cap);
	size_t o = 0;
	t->search[o++] = ' ';
	mx_ud_append_words(t->search, &o, t->local);
	mx_ud_append_words(t->search, &o, server_words);
	if (t->name)
		mx_ud_append_words(t->search, &o, t->name);
	t->search[o] = '\0';
	free(server_words);
	return 0;
}

/* Insert or update user_id's entry, writing nothing if it is unchanged. */
static int mx_ud_put(struct mx_db_conn *c, const char *user_id, const char *display_name,
		     const char *avatar_url)
{
	struct mx_ud_texts t;
	int rc = mx_ud_texts_make(user_id, display_name, &t);
	if (rc)
		return rc;
	struct mx_db_stmt *st;
	rc = mx_db_query(c, &st,
			 "SELECT display_name, avatar_url, search_text FROM user_directory"
			 " WHERE user_id = ?",
			 "s", user_id);
	if (rc < 0)
		goto out;
	if (rc == MX_DB_ROW) {
		bool same = mx_ud_streq(mx_db_col_text(st, 0), display_name) &&
			    mx_ud_streq(mx_db_col_text(st, 1), avatar_url) &&
			    mx_ud_streq(mx_db_col_text(st, 2), t.search);
		mx_db_done(st);
		if (same) {
			rc = 0;
			goto out;
		}
	}
	rc = mx_db_run(c,
		       "INSERT INTO user_directory"
		       " (user_id, display_name, avatar_url, search_text, local_text, name_text)"
		       " VALUES (?, ?, ?, ?, ?, ?)"
		       " ON CONFLICT (user_id) DO UPDATE SET display_name = excluded.display_name,"
		       " avatar_url = excluded.avatar_url, search_text = excluded.search_text,"
		       " local_text = excluded.local_text, name_text = excluded.name_text",
		       "ssssss", user_id, display_name, avatar_url, t.search, t.local, t.name);
out:
	mx_ud_texts_release(&t);
	return rc;
}

/* A string member of an event's content, or NULL. */
static const char *mx_ud_content_string(json_t *ev, const char *key)
{
	return json_string_value(json_object_get(json_object_get(ev, "content"), key));
}

/* A remote user: their current member event in room_id, if it is a join. */
static int mx_ud_refresh_remote(struct mx_db_conn *c, const char *user_id, const char *room_id)
{
	struct mx_db_stmt *st;
	int rc = mx_db_query(c, &st,
			     "SELECT cs.membership, e.json FROM current_state cs"
			     " JOIN events e ON e.nid = cs.event_nid"
			     " WHERE cs.room_id = ? AND cs.type = 'm.room.member' AND cs.state_key = ?",
			     "ss", room_id, user_id);
	if (rc <= 0)
		return rc; /* error, or not a member: nothing to learn */
	const char *m = mx_db_col_text(st, 0), *text = mx_db_col_text(st, 1);
	json_t *ev = m && !strcmp(m, "join") && text ? json_loads(text, 0, NULL) : NULL;
	mx_db_done(st);
	if (!ev)
		return 0;
	rc = mx_ud_put(c, user_id, mx_ud_content_string(ev, "displayname"),
		       mx_ud_content_string(ev, "avatar_url"));
	json_decref(ev);
	return rc;
}

struct mx_ud_user_job {
	const char *user_id;
	const char *room_id;
};

static int mx_ud_refresh_user(struct mx_db_conn *c, const char *user_id, const char *room_id)
{
	struct mx_db_stmt *st;
	int rc = mx_db_query(c, &st,
			     "SELECT displayname, avatar_url, deactivated FROM users WHERE user_id = ?",
			     "s", user_id);
	if (rc < 0)
		return rc;
	if (rc == MX_DB_DONE)
		return room_id ? mx_ud_refresh_remote(c, user_id, room_id) : 0;
	bool deactivated = mx_db_col_int64(st, 2) != 0;
	const char *dn = mx_db_col_text(st, 0), *av = mx_db_col_text(st, 1);
	char *dn_copy = dn ? mx_xstrdup(dn) : NULL, *av_copy = av ? mx_xstrdup(av) : NULL;
	mx_db_done(st);
	/* Synapse: "deactivated users aren't contactable, so should not appear". */
	if (deactivated)
		rc = mx_db_run(c, "DELETE FROM user_directory WHERE user_id = ?", "s", user_id);
	else
		rc = mx_ud_put(c, user_id, dn_copy, av_copy);
	free(dn_copy);
	free(av_copy);
	return rc;
}

static int mx_ud_refresh_user_job(struct mx_db_conn *c, void *arg)
{
	struct mx_ud_user_job *j = arg;
	return mx_ud_refresh_user(c, j->user_id, j->room_id);
}

int mx_store_user_directory_refresh_user(struct mx_db *db, const char *user_id,
					 const char *room_id)
{
	if (!user_id || !*user_id)
		return MX_EINVALID;
	struct mx_ud_user_job j = {user_id, room_id};
	return mx_db_write(db, mx_ud_refresh_user_job, &j);
}

/* ---- public rooms ---- */

/*
 * Synapse's is_room_world_readable_or_publicly_joinable, from the current
 * state. force: write a row even for a room that is not public (populate
 * marks the rooms it has looked at that way).
 */
static int mx_ud_refresh_room(struct mx_db_conn *c, const char *room_id, bool force)
{
	struct mx_db_stmt *st;
	int rc = mx_db_prepare(c,
			       "SELECT cs.type, e.json FROM current_state cs"
			       " JOIN events e ON e.nid = cs.event_nid"
			       " WHERE cs.room_id = ? AND cs.state_key = ''"
			       " AND cs.type IN ('m.room.join_rules', 'm.room.history_visibility')",
			       &st);
	if (rc)
		return rc;
	mx_db_bind_text(st, 1, room_id);
	int64_t join_public = 0, world_readable = 0;
	while ((rc = mx_db_step(st)) == MX_DB_ROW) {
		const char *type = mx_db_col_text(st, 0), *text = mx_db_col_text(st, 1);
		json_t *ev = text ? json_loads(text, 0, NULL) : NULL;
		bool jr = type && !strcmp(type, "m.room.join_rules");
		const char *v = mx_ud_content_string(ev, jr ? "join_rule" : "history_visibility");
		if (v && jr && !strcmp(v, "public"))
			join_public = 1;
		if (v && !jr && !strcmp(v, "world_readable"))
			world_readable = 1;
		json_decref(ev);
	}
	mx_db_done(st);
	if (rc < 0)
		return rc;
	rc = mx_db_query(c, &st,
			 "SELECT join_public, world_readable FROM user_directory_rooms WHERE room_id = ?",
			 "s", room_id);
	if (rc < 0)
		return rc;
	if (rc == MX_DB_ROW) {
		bool same = mx_db_col_int64(st, 0) == join_public &&
			    mx_db_col_int64(st, 1) == world_readable;
		mx_db_done(st);
		if (same)
			return 0;
	} else if (!join_public && !world_readable && !force) {
		return 0; /* no row reads as not public */
	}
	return mx_db_run(c,
			 "INSERT INTO user_directory_rooms (room_id, join_public, world_readable)"
			 " VALUES (?, ?, ?) ON CONFLICT (room_id) DO UPDATE SET"
			 " join_public = excluded.join_public, world_readable = excluded.world_readable",
			 "sii", room_id, join_public, world_readable);
}

static int mx_ud_refresh_room_job(struct mx_db_conn *c, void *arg)
{
	return mx_ud_refresh_room(c, arg, false);
}

int mx_store_user_directory_refresh_room(struct mx_db *db, const char *room_id)
{
	if (!room_id || !*room_id)
		return MX_EINVALID;
	return mx_db_write(db, mx_ud_refresh_room_job, (void *)room_id);
}

/* ---- populate ---- */

/* A growable list of string pairs, strings in an arena. */
struct mx_ud_pairs {
	const char **a, **b;
	size_t n, cap;
};

static void mx_ud_pairs_add(struct mx_ud_pairs *p, struct mx_arena *ar, const char *a,
			    const char *b)
{
	if (p->n == p->cap) {
		p->cap = p->cap ? p->cap * 2 : 64;
		p->a = mx_xrealloc(p->a, p->cap * sizeof(*p->a));
		p->b = mx_xrealloc(p->b, p->cap * sizeof(*p->b));
	}
	p->a[p->n] = a ? mx_arena_strdup(ar, a) : NULL;
	p->b[p->n] = b ? mx_arena_strdup(ar, b) : NULL;
	p->n++;
}

static void mx_ud_pairs_release(struct mx_ud_pairs *p)
{
	free(p->a);
	free(p->b);
	memset(p, 0, sizeof(*p));
}

/*
 * Rows of a one-column or two-column query (the second column may be NULL)
 * into p. Read fully before writing: the writes touch the tables read.
 */
static int mx_ud_collect(struct mx_db_conn *c, struct mx_arena *ar, const char *sql, bool two,
			 struct mx_ud_pairs *p)
{
	struct mx_db_stmt *st;
	int rc = mx_db_prepare(c, sql, &st);
	if (rc)
		return rc;
	while ((rc = mx_db_step(st)) == MX_DB_ROW)
		mx_ud_pairs_add(p, ar, mx_db_col_text(st, 0), two ? mx_db_col_text(st, 1) : NULL);
	mx_db_done(st);
	return rc < 0 ? rc : 0;
}

static int mx_ud_populate_job(struct mx_db_conn *c, void *arg)
{
	(void)arg;
	struct mx_arena ar;
	struct mx_ud_pairs users = {0}, remote = {0}, rooms = {0};
	mx_arena_init(&ar);
	int rc = mx_db_run(c,
			   "DELETE FROM user_directory WHERE user_id IN"
			   " (SELECT user_id FROM users WHERE deactivated <> 0)",
			   "");
	if (!rc)
		rc = mx_ud_collect(c, &ar,
				   "SELECT u.user_id FROM users u WHERE u.deactivated = 0"
				   " AND NOT EXISTS (SELECT 1 FROM user_directory d"
				   " WHERE d.user_id = u.user_id)",
				   false, &users);
	if (!rc)
		rc = mx_ud_collect(c, &ar,
				   "SELECT cs.state_key, cs.room_id FROM current_state cs"
				   " WHERE cs.type = 'm.room.member' AND cs.membership = 'join'"
				   " AND NOT EXISTS (SELECT 1 FROM users u WHERE u.user_id = cs.state_key)"
				   " AND NOT EXISTS (SELECT 1 FROM user_directory d"
				   " WHERE d.user_id = cs.state_key)",
				   true, &remote);
	if (!rc)
		rc = mx_ud_collect(c, &ar,
				   "SELECT r.room_id FROM rooms r WHERE NOT EXISTS"
				   " (SELECT 1 FROM user_directory_rooms p WHERE p.room_id = r.room_id)",
				   false, &rooms);
	for (size_t i = 0; !rc && i < users.n; i++)
		rc = mx_ud_refresh_user(c, users.a[i], NULL);
	for (size_t i = 0; !rc && i < remote.n; i++)
		rc = mx_ud_refresh_remote(c, remote.a[i], remote.b[i]);
	for (size_t i = 0; !rc && i < rooms.n; i++)
		rc = mx_ud_refresh_room(c, rooms.a[i], true);
	mx_ud_pairs_release(&users);
	mx_ud_pairs_release(&remote);
	mx_ud_pairs_release(&rooms);
	mx_arena_release(&ar);
	return rc;
}

int mx_store_user_directory_populate(struct mx_db *db)
{
	return mx_db_write(db, mx_ud_populate_job, NULL);
}

/* ---- search ---- */

/* pre + s (with LIKE's %, _ and the escape character escaped) + "%", in a. */
static const char *mx_ud_like_pattern(struct mx_arena *a, const char *pre, const char *s)
{
	size_t pl = strlen(pre), sl = strlen(s);
	char *p = mx_arena_alloc(a, pl + 2 * sl + 2);
	memcpy(p, pre, pl);
	size_t o = pl;
	for (const char *q = s; *q; q++) {
		if (*q == '%' || *q == '_' || *q == '\\')
			p[o++] = '\\';
		p[o++] = *q;
	}
	p[o++] = '%';
	p[o] = '\0';
	return p;
}

/*
 * ?1 searcher, ?2 the LIKE pattern of one word, ?3 the raw term, ?4 the
 * folded term, ?5 the folded term's prefix pattern.
 * SPEC: client-server-api#user-directory: "the search MUST consider local
 * users to the homeserver, and SHOULD query remote users as part of the
 * search" -- limited, as Synapse does by default, to users who share a
 * room with the requester or are in public rooms.
 */
static const char mx_ud_search_sql[] =
	"WITH visible(user_id) AS ("
	" SELECT theirs.state_key FROM current_state mine"
	" JOIN current_state theirs ON theirs.room_id = mine.room_id"
	" AND theirs.type = 'm.room.member'"
	" WHERE mine.state_key = ?1 AND mine.type = 'm.room.member' AND mine.membership = 'join'"
	" AND theirs.membership = 'join' AND theirs.state_key <> ?1"
	" UNION"
	" SELECT m.state_key FROM ("
	" SELECT room_id FROM user_directory_rooms WHERE join_public <> 0 OR world_readable <> 0"
	" UNION SELECT room_id FROM rooms WHERE published <> 0) pub"
	" JOIN current_state m ON m.room_id = pub.room_id AND m.type = 'm.room.member'"
	" WHERE m.membership = 'join')"
	" SELECT d.user_id, d.display_name, d.avatar_url, d.search_text"
	" FROM visible v JOIN user_directory d ON d.user_id = v.user_id"
	" WHERE d.search_text LIKE ?2 ESCAPE '\\'"
	" AND NOT EXISTS (SELECT 1 FROM users u WHERE u.user_id = d.user_id AND u.deactivated <> 0)"
	" ORDER BY CASE WHEN d.user_id = ?3 THEN 0"
	" WHEN d.local_text = ?4 THEN 1"
	" WHEN d.local_text LIKE ?5 ESCAPE '\\' THEN 2"
	" WHEN d.name_text = ?4 THEN 3"
	" WHEN d.name_text LIKE ?5 ESCAPE '\\' THEN 4"
	" ELSE 5 END,"
	" d.display_name IS NULL, d.avatar_url IS NULL, d.user_id";

int mx_store_user_directory_search(struct mx_db_conn *c, struct mx_arena *a,
				   const char *searcher, const char *term, size_t len, int limit,
				   struct mx_store_user_directory_hit **hits, size_t *n,
				   bool *limited)
{
	*hits = NULL;
	*n = 0;
	*limited = false;
	if (limit < 1)
		limit = 1;
	if (limit > MX_USER_DIRECTORY_LIMIT_MAX)
		limit = MX_USER_DIRECTORY_LIMIT_MAX;
	if (memchr(term, '\0', len))
		return MX_EINVALID;
	char *folded;
	int rc = mx_store_user_directory_fold(term, len, &folded);
	if (rc)
		return rc;
	folded = mx_arena_own(a, folded);

	/* Its words, each as " word": the start of a word of search_text. The
	 * longest goes to SQL (the most selective LIKE); C checks the rest. */
	const char *words[MX_USER_DIRECTORY_MAX_WORDS];
	size_t n_words = 0, longest = 0, longest_len = 0;
	for (const char *p = folded; *p && n_words < MX_USER_DIRECTORY_MAX_WORDS;) {
		size_t l = strcspn(p, " ");
		char *w = mx_arena_alloc(a, l + 2);
		w[0] = ' ';
		memcpy(w + 1, p, l);
		if (l > longest_len) {
			longest = n_words;
			longest_len = l;
		}
		words[n_words++] = w;
		p += l;
		while (*p == ' ')
			p++;
	}
	if (!n_words)
		return 0;

	struct mx_db_stmt *st;
	rc = mx_db_query(c, &st, mx_ud_search_sql, "sssss", searcher,
			 mx_ud_like_pattern(a, "%", words[longest]),
			 mx_arena_strndup(a, term, len), folded, mx_ud_like_pattern(a, "", folded));
	if (rc <= 0)
		return rc;
	struct mx_store_user_directory_hit *h = mx_arena_alloc(a, (size_t)limit * sizeof(*h));
	size_t cnt = 0;
	do {
		const char *text = mx_db_col_text(st, 3);
		bool all = text != NULL;
		for (size_t i = 0; all && i < n_words; i++)
			all = strstr(text, words[i]) != NULL;
		if (!all)
			continue;
		if (cnt == (size_t)limit) {
			*limited = true;
			break;
		}
		const char *dn = mx_db_col_text(st, 1), *av = mx_db_col_text(st, 2);
		h[cnt].user_id = mx_arena_strdup(a, mx_db_col_text(st, 0));
		h[cnt].display_name = dn ? mx_arena_strdup(a, dn) : NULL;
		h[cnt].avatar_url = av ? mx_arena_strdup(a, av) : NULL;
		cnt++;
	} while ((rc = mx_db_step(st)) == MX_DB_ROW);
	mx_db_done(st);
	if (rc < 0)
		return rc;
	*hits = h;
	*n = cnt;
	return 0;
}
