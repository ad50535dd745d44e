/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Full-text search of room events (SPEC: client-server-api#server-side-search)
 * over the SQLite FTS5 table event_search (migration 015): one row per
 * m.room.message body, m.room.name name and m.room.topic topic, keyed by
 * events.nid, written by the event writer in the same job as the event
 * and removed in the job of its redaction.
 *
 * A user's search term never reaches FTS5 as query syntax:
 * mx_store_search_parse() turns it into quoted phrases of plain words, so
 * quotes, NEAR, AND/OR/NOT, '*', '^', ':' and parentheses are just text.
 * Strings returned live in the given arena.
 */
#ifndef MX_STORE_SEARCH_H
#define MX_STORE_SEARCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mx_arena;
struct mx_db;
struct mx_db_conn;
struct mx_persist_event;
struct mx_store_event;

/* Longest search term accepted, in bytes, and most words (quoted or not). */
#define MX_SEARCH_TERM_MAX 4096
#define MX_SEARCH_WORDS_MAX 64

/* The searchable keys, one FTS5 column each. */
enum mx_search_key {
	MX_SEARCH_BODY = 1 << 0,  /* content.body of m.room.message */
	MX_SEARCH_NAME = 1 << 1,  /* content.name of m.room.name */
	MX_SEARCH_TOPIC = 1 << 2, /* content.topic of m.room.topic */
};
#define MX_SEARCH_ALL_KEYS (MX_SEARCH_BODY | MX_SEARCH_NAME | MX_SEARCH_TOPIC)

/* A parsed search term. */
struct mx_search_terms {
	const char *match;   /* the FTS5 query; NULL when there is nothing to search */
	const char **words;  /* the words as typed, without punctuation (highlights) */
	const char **folded; /* the same, case folded and without accents */
	const bool *exact;   /* the word was in a quoted phrase: no prefix match */
	size_t n_words;
};

/*
 * Parse a search term as Synapse reads one: words separated by white
 * space, each matching words that start with it (an exact match ranks
 * higher), all of them required; text in double quotes is a phrase, whose
 * words must follow each other. Inside a word, punctuation separates
 * sub-words that must be adjacent ("e-mail"). Case and accents are
 * ignored by the index. keys (MX_SEARCH_* bits) restricts the columns.
 *
 * Returns 0 with out filled (out->match NULL if the term holds no word,
 * or keys is 0: the caller answers with no results), MX_ETOOLARGE for a
 * term over MX_SEARCH_TERM_MAX bytes or MX_SEARCH_WORDS_MAX words, or
 * MX_EINVALID if term is not UTF-8. Pure: touches nothing but a.
 */
int mx_store_search_parse(struct mx_arena *a, const char *term, size_t len, unsigned keys,
			  struct mx_search_terms *out);

/* One room to search: all of it, or (a room the user left) up to an event. */
struct mx_search_room {
	const char *room_id;
	int64_t max_nid;     /* INT64_MAX: no bound */
};

/*
 * What to search. Results are ordered by rank (best first) or by recency
 * (newest first); ties on rank by recency. A position in that order is
 * (rank key, nid): has_after starts strictly after one.
 */
struct mx_search_params {
	const char *match;               /* mx_search_terms.match */
	const struct mx_search_room *rooms;
	size_t n_rooms;
	const char *const *senders;      /* only these senders; NULL: any */
	size_t n_senders;
	const char *const *not_senders;  /* never these; NULL: none */
	size_t n_not_senders;
	bool by_rank;                    /* else most recent first */
	int64_t upto;                    /* only events with nid <= upto; 0: no bound */
	bool has_after;
	int64_t after_rank;              /* by_rank only */
	int64_t after_nid;
};

/*
 * Called per result, in order, with the event and its rank key (higher
 * is better, whatever the order). Return non-zero to stop: that row is
 * not consumed.
 */
typedef int (*mx_store_search_cb)(void *ctx, const struct mx_store_event *ev, int64_t rank);

/*
 * Up to limit matching events of the rooms (not outliers, rejected,
 * soft-failed or redacted ones), in the order asked. Visibility, the
 * filter's types and contains_url are the caller's. Returns rows seen or
 * an error.
 */
int mx_store_search(struct mx_db_conn *c, struct mx_arena *a, const struct mx_search_params *p,
		    int limit, mx_store_search_cb cb, void *ctx);

/* How many events mx_store_search would return without a limit or position. */
int mx_store_search_count(struct mx_db_conn *c, const struct mx_search_params *p, int64_t *out);

/* A rank key as the number clients see: bm25, higher is better. */
double mx_store_search_rank(int64_t rank);

/*
 * The words of a result's text that the search matched, as written there
 * ("Café" for a search of "cafe", "Martians" for "mart"), for clients to
 * mark: the words whose folded form starts with a folded word of the
 * search (or equals one, for words of a quoted phrase). Added to *words /
 * *n (arena arrays, grown here) when not already there, at most max in
 * all; only the first MX_SEARCH_HIGHLIGHT_SCAN bytes of text are read.
 * A clue computed without the index (which would rebuild a prefix's whole
 * doclist per result). Pure.
 */
#define MX_SEARCH_HIGHLIGHT_SCAN 16384
void mx_store_search_highlights(struct mx_arena *a, const struct mx_search_terms *t,
				const char *text, const char ***words, size_t *n, size_t max);

/*
 * Writer side (store-internal, called by mx_store_events_persist inside
 * the event's write job, before a redaction marks its target): index e
 * if it carries searchable text, and take the target of a redaction out
 * of the index.
 */
int mx__store_search_persisted(struct mx_db_conn *c, const struct mx_persist_event *e);

/*
 * Check the index: FTS5's own integrity check, and every token of every
 * event as a fresh index built from the events has it (tests: a write
 * job, slow on a big index, leaving nothing behind). 0, or MX_EDB if they
 * disagree.
 */
int mx_store_search_check(struct mx_db *db);

#endif
