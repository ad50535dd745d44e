/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Full-text search in SQL (see search.h and migration 015).
 *
 * event_search is an external-content FTS5 table over the view
 * event_search_content: the index holds no copy of the text. FTS5 removes
 * a row only when handed the values it indexed, so both the insert and
 * the removal read them from the same view, and the removal runs before
 * the redaction mark takes the row out of the view.
 *
 * Rank: bm25() is negative, lower is better; the rank key is -bm25 scaled
 * to an integer (MX_SEARCH_RANK_SCALE), so that a position in the ranked
 * order can travel in a pagination token and be compared exactly in SQL.
 * Ties, and the recency order, go by nid (the events stream order).
 */
#include "store/search.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/mem.h"
#include "db/db.h"
#include "store/rooms.h"

/* -bm25 is at most a few thousand (64 words of ~50 each); x 1e12 fits int64. */
#define MX_SEARCH_RANK_SCALE 1e12

/* ---- the term ---- */

/*
 * Characters of words: letters, marks, numbers and private use, as the
 * unicode61 tokenizer sees them (it folds the marks away). A sub-word is
 * kept only if it has more than marks (*strong).
 */
static bool mx_search_word_char(int32_t cp, bool *strong)
{
	utf8proc_category_t cat = utf8proc_category(cp);
	*strong = (cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_LO) ||
		  (cat >= UTF8PROC_CATEGORY_ND && cat <= UTF8PROC_CATEGORY_NO) ||
		  cat == UTF8PROC_CATEGORY_CO;
	return *strong || (cat >= UTF8PROC_CATEGORY_MN && cat <= UTF8PROC_CATEGORY_ME);
}

static bool mx_search_space(int32_t cp)
{
	utf8proc_category_t cat = utf8proc_category(cp);
	return cat == UTF8PROC_CATEGORY_ZS || cat == UTF8PROC_CATEGORY_ZL ||
	       cat == UTF8PROC_CATEGORY_ZP || cat == UTF8PROC_CATEGORY_CC;
}

/* Decode the code point at s[i]; its length, or -1 if not UTF-8. */
static int mx_search_cp(const char *s, size_t len, size_t i, int32_t *cp)
{
	utf8proc_int32_t c;
	utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)s + i,
					      (utf8proc_ssize_t)(len - i), &c);
	if (k <= 0)
		return -1;
	*cp = c;
	return (int)k;
}

struct mx_search_parser {
	struct mx_arena *a;
	struct mx_buf out;     /* the phrases, joined by AND */
	struct mx_buf phrase;  /* the sub-words of the phrase being read */
	const char **words, **folded;
	bool *exact;
	size_t n_words, cap_words;
};

/*
 * Case folded, compatibility-decomposed, marks stripped: about what the
 * unicode61 tokenizer makes of a word (heap, caller frees); NULL on error.
 */
static char *mx_search_fold(const char *s, size_t n)
{
	utf8proc_uint8_t *out = NULL;
	utf8proc_ssize_t len = utf8proc_map((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)n, &out,
					    UTF8PROC_STABLE | UTF8PROC_COMPAT | UTF8PROC_DECOMPOSE |
						    UTF8PROC_CASEFOLD | UTF8PROC_STRIPMARK |
						    UTF8PROC_IGNORE);
	if (len < 0)
		return NULL;
	return (char *)out;
}

static void mx_search_add_word(struct mx_search_parser *p, const char *w, size_t n, bool exact)
{
	if (p->n_words == p->cap_words) {
		size_t cap = p->cap_words ? p->cap_words * 2 : 8;
		const char **nw = mx_arena_alloc(p->a, cap * sizeof(*nw));
		const char **nf = mx_arena_alloc(p->a, cap * sizeof(*nf));
		bool *ne = mx_arena_alloc(p->a, cap * sizeof(*ne));
		if (p->n_words) {
			memcpy(nw, p->words, p->n_words * sizeof(*nw));
			memcpy(nf, p->folded, p->n_words * sizeof(*nf));
			memcpy(ne, p->exact, p->n_words * sizeof(*ne));
		}
		p->words = nw;
		p->folded = nf;
		p->exact = ne;
		p->cap_words = cap;
	}
	char *f = mx_search_fold(w, n);
	p->words[p->n_words] = mx_arena_strndup(p->a, w, n);
	p->folded[p->n_words] = f ? mx_arena_own(p->a, f) : p->words[p->n_words];
	p->exact[p->n_words] = exact;
	p->n_words++;
}

/* The phrase as an FTS5 string: in double quotes, any '"' doubled. */
static int mx_search_put_quoted(struct mx_buf *b, const char *s, size_t n)
{
	int rc = mx_buf_putc(b, '"');
	for (size_t i = 0; i < n && !rc; i++)
		rc = s[i] == '"' ? mx_buf_puts(b, "\"\"") : mx_buf_putc(b, s[i]);
	return rc ? rc : mx_buf_putc(b, '"');
}

/*
 * Read s[0..n) (a word, or the inside of quotes) into one phrase of its
 * sub-words and append it: prefix-matching ("w"* OR "w", so that exact
 * matches rank higher) or exact.
 */
static int mx_search_phrase(struct mx_search_parser *p, const char *s, size_t n, bool prefix)
{
	mx_buf_reset(&p->phrase);
	size_t i = 0;
	while (i < n) {
		int32_t cp;
		bool strong, any_strong = false;
		int k = mx_search_cp(s, n, i, &cp);
		if (k < 0)
			return MX_EINVALID;
		if (!mx_search_word_char(cp, &strong)) {
			i += (size_t)k;
			continue;
		}
		size_t start = i;
		while (i < n && (k = mx_search_cp(s, n, i, &cp)) > 0 && mx_search_word_char(cp, &strong)) {
			any_strong = any_strong || strong;
			i += (size_t)k;
		}
		if (k < 0)
			return MX_EINVALID;
		if (!any_strong)
			continue;
		/* Words, not phrases, are counted: a quoted phrase is no way around it. */
		if (p->n_words == MX_SEARCH_WORDS_MAX)
			return MX_ETOOLARGE;
		int rc = (p->phrase.len ? mx_buf_putc(&p->phrase, ' ') : 0);
		if (!rc)
			rc = mx_buf_append(&p->phrase, s + start, i - start);
		if (rc)
			return rc;
		mx_search_add_word(p, s + start, i - start, !prefix);
	}
	if (!p->phrase.len)
		return 0; /* only punctuation: nothing to look for */
	/* Explicit: FTS5 implies AND only between bare phrases. */
	struct mx_buf *o = &p->out;
	int rc = o->len ? mx_buf_puts(o, " AND ") : 0;
	if (prefix) {
		if (!rc)
			rc = mx_buf_putc(o, '(');
		if (!rc)
			rc = mx_search_put_quoted(o, p->phrase.data, p->phrase.len);
		if (!rc)
			rc = mx_buf_puts(o, "* OR ");
	}
	if (!rc)
		rc = mx_search_put_quoted(o, p->phrase.data, p->phrase.len);
	if (!rc && prefix)
		rc = mx_buf_putc(o, ')');
	return rc;
}

static const char *mx_search_column_filter(unsigned keys)
{
	static const char *const filters[8] = {
		NULL, "{body}", "{name}", "{body name}", "{topic}", "{body topic}",
		"{name topic}", NULL /* all: no filter */,
	};
	return filters[keys & MX_SEARCH_ALL_KEYS];
}

int mx_store_search_parse(struct mx_arena *a, const char *term, size_t len, unsigned keys,
			  struct mx_search_terms *out)
{
	memset(out, 0, sizeof(*out));
	if (len > MX_SEARCH_TERM_MAX)
		return MX_ETOOLARGE;
	struct mx_search_parser p = {.a = a};
	/* Each byte of the term is written at most twice (the prefix form),
	 * plus quotes and operators: at most 16 bytes a phrase, and there are
	 * no more phrases than words. */
	mx_buf_init(&p.out, 2 * MX_SEARCH_TERM_MAX + 16 * MX_SEARCH_WORDS_MAX + 64);
	mx_buf_init(&p.phrase, MX_SEARCH_TERM_MAX + 1);
	int rc = 0;
	size_t i = 0;
	while (i < len && !rc) {
		int32_t cp;
		int k = mx_search_cp(term, len, i, &cp);
		if (k < 0) {
			rc = MX_EINVALID;
			break;
		}
		if (cp == '"') {
			/* A phrase up to the closing quote, or the end of the term. */
			const char *end = memchr(term + i + 1, '"', len - i - 1);
			size_t stop = end ? (size_t)(end - term) : len;
			rc = mx_search_phrase(&p, term + i + 1, stop - i - 1, false);
			i = end ? stop + 1 : len;
		} else if (mx_search_space(cp)) {
			i += (size_t)k;
		} else {
			size_t start = i;
			while (i < len && (k = mx_search_cp(term, len, i, &cp)) > 0 && cp != '"' &&
			       !mx_search_space(cp))
				i += (size_t)k;
			rc = k < 0 ? MX_EINVALID : mx_search_phrase(&p, term + start, i - start, true);
		}
	}
	if (!rc && p.out.len && (keys & MX_SEARCH_ALL_KEYS)) {
		const char *cols = mx_search_column_filter(keys);
		out->match = cols ? mx_arena_printf(a, "%s : (%s)", cols, p.out.data)
				  : mx_arena_strdup(a, p.out.data);
	}
	if (!rc) {
		out->words = p.words;
		out->folded = p.folded;
		out->exact = p.exact;
		out->n_words = p.n_words;
	}
	mx_buf_release(&p.out);
	mx_buf_release(&p.phrase);
	return rc;
}

/* ---- searching ---- */

/*
 * The queries join with CROSS JOIN, which SQLite reads as "this order":
 * the MATCH drives and events are looked up by nid. The other order (a
 * room's events, each tested against the MATCH) is what the planner may
 * pick for one room, and costs minutes on a big room.
 *
 * The conditions every result meets, after the MATCH: in one of the
 * rooms (?4: JSON array of rooms searched in full; ?5: JSON object of
 * room -> last nid for rooms the user left), from the senders asked
 * (?6, ?7: JSON arrays or NULL), and a live event of the room's timeline.
 * The IN lists become one temporary index each, built once per query.
 */
#define MX_SEARCH_WHERE                                                                        \
	" AND (e.room_id IN (SELECT value FROM json_each(?4))"                                \
	"  OR (e.room_id IN (SELECT key FROM json_each(?5))"                                   \
	"   AND e.nid <= (SELECT value FROM json_each(?5) WHERE key = e.room_id)))"           \
	" AND (?6 IS NULL OR e.sender IN (SELECT value FROM json_each(?6)))"                  \
	" AND (?7 IS NULL OR e.sender NOT IN (SELECT value FROM json_each(?7)))"              \
	" AND e.outlier = 0 AND e.rejected IS NULL AND e.soft_failed = 0"                      \
	" AND e.redacted_by IS NULL"

/* Newest first: FTS5 walks its rowids backwards and stops at the limit
 * (the rank is computed for the rows returned only). */
static const char mx_sql_search_recent[] =
	"SELECT e.event_id, CAST(bm25(s.event_search) * -1e12 AS INTEGER)"
	" FROM event_search s CROSS JOIN events e ON e.nid = s.rowid"
	" WHERE s.event_search MATCH ?1 AND s.rowid <= ?2 AND s.rowid < ?3" MX_SEARCH_WHERE
	" ORDER BY s.rowid DESC LIMIT ?9";

/* Best first: every match is scored once (the CTE), then sorted. */
static const char mx_sql_search_rank[] =
	"WITH m AS MATERIALIZED (SELECT rowid AS nid,"
	" CAST(bm25(event_search) * -1e12 AS INTEGER) AS k"
	" FROM event_search WHERE event_search MATCH ?1 AND rowid <= ?2)"
	" SELECT e.event_id, m.k FROM m CROSS JOIN events e ON e.nid = m.nid"
	" WHERE (m.k < ?8 OR (m.k = ?8 AND m.nid < ?3))" MX_SEARCH_WHERE
	" ORDER BY m.k DESC, m.nid DESC LIMIT ?9";

static const char mx_sql_search_count[] =
	"SELECT count(*) FROM event_search s CROSS JOIN events e ON e.nid = s.rowid"
	" WHERE s.event_search MATCH ?1 AND s.rowid <= ?2" MX_SEARCH_WHERE;

static char *mx_search_json_list(const char *const *v, size_t n)
{
	if (!v)
		return NULL;
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, json_string(v[i]));
	char *s = json_dumps(arr, JSON_COMPACT);
	json_decref(arr);
	return s;
}

/*
 * Bind ?1-?7 (a statement that does not use ?3 uses a later number, so
 * binding it is harmless); the JSON texts go to the arena.
 */
static int mx_search_bind(struct mx_db_stmt *st, struct mx_arena *a,
			  const struct mx_search_params *p)
{
	json_t *full = json_array(), *bounded = json_object();
	for (size_t i = 0; i < p->n_rooms; i++) {
		const struct mx_search_room *r = &p->rooms[i];
		if (r->max_nid == INT64_MAX)
			json_array_append_new(full, json_string(r->room_id));
		else
			json_object_set_new(bounded, r->room_id, json_integer(r->max_nid));
	}
	const char *full_s = mx_arena_own(a, json_dumps(full, JSON_COMPACT));
	const char *bounded_s = mx_arena_own(a, json_dumps(bounded, JSON_COMPACT));
	json_decref(full);
	json_decref(bounded);
	const char *senders = mx_arena_own(a, mx_search_json_list(p->senders, p->n_senders));
	const char *not_senders =
		mx_arena_own(a, mx_search_json_list(p->not_senders, p->n_not_senders));
	int rc = mx_db_bind_text(st, 1, p->match);
	if (!rc)
		rc = mx_db_bind_int64(st, 2, p->upto > 0 ? p->upto : INT64_MAX);
	if (!rc)
		rc = mx_db_bind_int64(st, 3, p->has_after ? p->after_nid : INT64_MAX);
	if (!rc)
		rc = mx_db_bind_text(st, 4, full_s);
	if (!rc)
		rc = mx_db_bind_text(st, 5, bounded_s);
	if (!rc)
		rc = mx_db_bind_text(st, 6, senders);
	if (!rc)
		rc = mx_db_bind_text(st, 7, not_senders);
	return rc;
}

int mx_store_search(struct mx_db_conn *c, struct mx_arena *a, const struct mx_search_params *p,
		    int limit, mx_store_search_cb cb, void *ctx)
{
	if (!p->match || !p->n_rooms || limit <= 0)
		return 0;
	struct mx_db_stmt *st;
	int rc = mx_db_prepare(c, p->by_rank ? mx_sql_search_rank : mx_sql_search_recent, &st);
	if (rc)
		return rc;
	rc = mx_search_bind(st, a, p);
	if (!rc && p->by_rank)
		rc = mx_db_bind_int64(st, 8, p->has_after ? p->after_rank : INT64_MAX);
	if (!rc)
		rc = mx_db_bind_int64(st, 9, limit);
	if (rc) {
		mx_db_done(st);
		return rc;
	}
	int n = 0;
	while ((rc = mx_db_step(st)) == MX_DB_ROW) {
		const char *event_id = mx_arena_strdup(a, mx_db_col_text(st, 0));
		int64_t rank = mx_db_col_int64(st, 1);
		struct mx_store_event ev;
		/* A second statement on the connection while this one is open:
		 * the row is one lookup in the event_id index. */
		rc = mx_store_event_get(c, a, event_id, &ev);
		if (rc) {
			mx_db_done(st);
			return rc;
		}
		n++;
		if (cb(ctx, &ev, rank)) {
			mx_db_done(st);
			return n;
		}
	}
	return rc < 0 ? rc : n;
}

int mx_store_search_count(struct mx_db_conn *c, const struct mx_search_params *p, int64_t *out)
{
	*out = 0;
	if (!p->match || !p->n_rooms)
		return 0;
	struct mx_arena a;
	mx_arena_init(&a);
	struct mx_search_params q = *p;
	q.has_after = false;
	struct mx_db_stmt *st;
	int rc = mx_db_prepare(c, mx_sql_search_count, &st);
	if (!rc) {
		rc = mx_search_bind(st, &a, &q);
		if (!rc)
			rc = mx_db_step(st);
		if (rc == MX_DB_ROW) {
			*out = mx_db_col_int64(st, 0);
			rc = 0;
		} else if (rc == MX_DB_DONE) {
			rc = MX_EDB;
		}
		mx_db_done(st);
	}
	mx_arena_release(&a);
	return rc;
}

double mx_store_search_rank(int64_t rank)
{
	return (double)rank / MX_SEARCH_RANK_SCALE;
}

/* ---- highlights ---- */

static void mx_search_add_unique(struct mx_arena *a, const char ***words, size_t *n, size_t max,
				 const char *w, size_t len)
{
	for (size_t i = 0; i < *n; i++)
		if (strlen((*words)[i]) == len && !memcmp((*words)[i], w, len))
			return;
	if (*n >= max)
		return;
	const char **nv = mx_arena_alloc(a, (*n + 1) * sizeof(*nv));
	if (*n)
		memcpy(nv, *words, *n * sizeof(*nv));
	nv[(*n)++] = mx_arena_strndup(a, w, len);
	*words = nv;
}

static bool mx_search_word_matches(const struct mx_search_terms *t, const char *folded)
{
	for (size_t i = 0; i < t->n_words; i++) {
		size_t n = strlen(t->folded[i]);
		if (!strncmp(folded, t->folded[i], n) && (!t->exact[i] || !folded[n]))
			return true;
	}
	return false;
}

void mx_store_search_highlights(struct mx_arena *a, const struct mx_search_terms *t,
				const char *text, const char ***words, size_t *n, size_t max)
{
	size_t len = text ? strlen(text) : 0, i = 0;
	if (len > MX_SEARCH_HIGHLIGHT_SCAN)
		len = MX_SEARCH_HIGHLIGHT_SCAN;
	while (i < len && *n < max) {
		int32_t cp;
		bool strong, any_strong = false;
		int k = mx_search_cp(text, len, i, &cp);
		if (k < 0)
			return; /* cut inside a character, at the scan limit */
		if (!mx_search_word_char(cp, &strong)) {
			i += (size_t)k;
			continue;
		}
		size_t start = i;
		while (i < len && (k = mx_search_cp(text, len, i, &cp)) > 0 &&
		       mx_search_word_char(cp, &strong)) {
			any_strong = any_strong || strong;
			i += (size_t)k;
		}
		if (!any_strong)
			continue;
		char *f = mx_search_fold(text + start, i - start);
		if (f && mx_search_word_matches(t, f))
			mx_search_add_unique(a, words, n, max, text + start, i - start);
		free(f);
		if (k < 0)
			return;
	}
}

/* ---- the writer ---- */

int mx__store_search_persisted(struct mx_db_conn *c, const struct mx_persist_event *e)
{
	int rc = 0;
	/* The view decides what is indexed; this only skips the statement for
	 * the events it can never hold. */
	if (e->nid && (!strcmp(e->type, "m.room.message") || !strcmp(e->type, "m.room.name") ||
		       !strcmp(e->type, "m.room.topic")))
		rc = mx_db_run(c,
			       "INSERT INTO event_search (rowid, body, name, topic)"
			       " SELECT nid, body, name, topic FROM event_search_content WHERE nid = ?",
			       "i", e->nid);
	/* Before the target is marked: the view still shows what was indexed
	 * (and nothing if it was never indexed or is redacted already). */
	if (!rc && e->redacts)
		rc = mx_db_run(c,
			       "INSERT INTO event_search (event_search, rowid, body, name, topic)"
			       " SELECT 'delete', v.nid, v.body, v.name, v.topic FROM events t"
			       " JOIN event_search_content v ON v.nid = t.nid"
			       " WHERE t.event_id = ? AND t.room_id = ?",
			       "ss", e->redacts, e->room_id);
	return rc;
}

/*
 * FTS5's integrity check only looks inside the index; the agreement with
 * the events is checked by building a second index from the view (in the
 * writer's temp schema) and comparing the two token by token.
 */
static int mx_search_check_job(struct mx_db_conn *c, void *arg)
{
	int64_t *diff = arg;
	int rc = mx_db_exec(
		c, "INSERT INTO event_search (event_search) VALUES ('integrity-check');"
		   "CREATE TEMP VIEW mx_search_src AS SELECT * FROM main.event_search_content;"
		   "CREATE VIRTUAL TABLE temp.mx_search_fresh USING fts5 (body, name, topic,"
		   " content = 'mx_search_src', content_rowid = 'nid',"
		   " tokenize = 'unicode61 remove_diacritics 2');"
		   "INSERT INTO temp.mx_search_fresh (mx_search_fresh) VALUES ('rebuild');"
		   "CREATE VIRTUAL TABLE temp.mx_search_v1 USING fts5vocab (main, event_search, instance);"
		   "CREATE VIRTUAL TABLE temp.mx_search_v2"
		   " USING fts5vocab (temp, mx_search_fresh, instance);");
	struct mx_db_stmt *st;
	if (!rc) {
		rc = mx_db_query(c, &st,
				 "SELECT (SELECT count(*) FROM (SELECT * FROM temp.mx_search_v1"
				 " EXCEPT SELECT * FROM temp.mx_search_v2))"
				 " + (SELECT count(*) FROM (SELECT * FROM temp.mx_search_v2"
				 " EXCEPT SELECT * FROM temp.mx_search_v1))",
				 "");
		if (rc == MX_DB_ROW) {
			*diff = mx_db_col_int64(st, 0);
			mx_db_done(st);
			rc = 0;
		} else if (rc == MX_DB_DONE) {
			rc = MX_EDB;
		}
	}
	int drop = mx_db_exec(c, "DROP TABLE IF EXISTS temp.mx_search_v1;"
				 "DROP TABLE IF EXISTS temp.mx_search_v2;"
				 "DROP TABLE IF EXISTS temp.mx_search_fresh;"
				 "DROP VIEW IF EXISTS temp.mx_search_src;");
	return rc ? rc : drop;
}

int mx_store_search_check(struct mx_db *db)
{
	int64_t diff = -1;
	int rc = mx_db_write(db, mx_search_check_job, &diff);
	return rc ? rc : diff ? MX_EDB : 0;
}
