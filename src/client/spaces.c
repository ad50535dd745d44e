/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Spaces: GET /_matrix/client/v1/rooms/{roomId}/hierarchy.
 * SPEC: client-server-api#get_matrixclientv1roomsroomidhierarchy
 *
 * The walk (room/hierarchy.h) runs on the HTTP thread over our room
 * cache. When it reaches rooms only other servers can describe, the
 * request parks while job threads ask them (federation/hierarchy.h, a
 * fan-out of up to MX_HIERARCHY_FETCH_BATCH rooms at once, each bounded
 * by a deadline), then the walk goes on with their answers; a room no
 * server could tell about is left out. The request gives remote rooms
 * MX_SPACES_REMOTE_BUDGET_MS in all: after that, the ones not asked yet
 * are left out too, so a space of dead servers still answers.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "client/routes.h"
#include "core/arena.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/error.h"
#include "core/mem.h"
#include "event/ids.h"
#include "federation/hierarchy.h"
#include "http/fanout.h"
#include "http/request.h"
#include "room/hierarchy.h"

/* One round of remote questions (every task of it runs at once). */
#define MX_SPACES_ROUND_MS (MX_FED_HIERARCHY_TIMEOUT_MS + 2000)
/* Remote questions per request, all rounds together. */
#define MX_SPACES_REMOTE_BUDGET_MS 30000

/* One remote room asked on a job thread; its inputs and results in its arena. */
struct mx_spaces_task {
	struct mx_fanout_task base;
	struct mx_server *srv;
	struct mx_arena a;
	const char *room_id;
	json_t *via;
	bool suggested_only;
	json_t *answer; /* the result: a checked answer, or NULL */
};

/* The handler's, across parks (request arena). */
struct mx_spaces_state {
	struct mx_hierarchy_local local;
	struct mx_hierarchy_source src;
	struct mx_hierarchy_walk *wk;
	bool suggested_only;
	int64_t remote_deadline;
	struct mx_fanout *f; /* the round in flight, or NULL */
	struct mx_spaces_task *tasks[MX_HIERARCHY_FETCH_BATCH];
	size_t n_tasks;
};

static void mx_spaces_task_run(struct mx_fanout_task *base)
{
	struct mx_spaces_task *t = (struct mx_spaces_task *)base;
	if (mx_fed_hierarchy_fetch(t->srv, &t->a, t->room_id, t->via, t->suggested_only,
				   &t->answer))
		t->answer = NULL;
}

static void mx_spaces_task_free(struct mx_fanout_task *base)
{
	struct mx_spaces_task *t = (struct mx_spaces_task *)base;
	mx_arena_release(&t->a);
	free(t);
}

/* Hand the round's answers to the walk; a task not done by the deadline is a failure. */
static void mx_spaces_collect(struct mx_spaces_state *st)
{
	for (size_t i = 0; i < st->n_tasks; i++) {
		struct mx_spaces_task *t = st->tasks[i];
		mx_hierarchy_walk_supply(st->wk, t->room_id,
					 mx_fanout_done(st->f, &t->base) ? t->answer : NULL);
	}
	st->n_tasks = 0;
	st->f = NULL;
}

/*
 * The walk wants rooms described: answers in the cache (or, past the
 * budget, failures) are handed over at once; the rest are asked on job
 * threads. Returns whether a round started.
 */
static bool mx_spaces_ask(struct mx_req *req, struct mx_spaces_state *st)
{
	const char *const *ids;
	const json_t *const *vias;
	size_t n = mx_hierarchy_walk_wanted(st->wk, &ids, &vias);
	int64_t now = mx_clock_mono_ms();
	for (size_t i = 0; i < n; i++) {
		json_t *answer;
		if (mx_fed_hierarchy_cached(req->srv, &req->arena, ids[i], st->suggested_only,
					    &answer)) {
			mx_hierarchy_walk_supply(st->wk, ids[i], answer);
			continue;
		}
		if (now >= st->remote_deadline) {
			mx_hierarchy_walk_supply(st->wk, ids[i], NULL);
			continue;
		}
		if (!st->f) {
			int64_t deadline = now + MX_SPACES_ROUND_MS;
			st->f = mx_fanout_new(req, deadline < st->remote_deadline
							   ? deadline
							   : st->remote_deadline);
		}
		struct mx_spaces_task *t = mx_xcalloc(1, sizeof(*t));
		t->base.run = mx_spaces_task_run;
		t->base.free = mx_spaces_task_free;
		t->srv = req->srv;
		mx_arena_init(&t->a);
		t->room_id = mx_arena_strdup(&t->a, ids[i]);
		t->via = mx_arena_json(&t->a, json_deep_copy(vias[i]));
		t->suggested_only = st->suggested_only;
		mx_fanout_add(st->f, &t->base);
		st->tasks[st->n_tasks++] = t;
	}
	return st->f != NULL;
}

/* A non-negative decimal integer query parameter; MX_EINVALIDPARAM if malformed. */
static int mx_spaces_int_param(const char *s, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 0)
		return MX_EINVALIDPARAM;
	*out = v;
	return 0;
}

/* First run: parse the request, check the root, start the walk. 0 or replied. */
static int mx_spaces_start(struct mx_req *req, struct mx_spaces_state **out)
{
	const char *room_id = mx_req_param(req, 0);
	if (!mx_id_room_valid(room_id, NULL))
		return mx_req_fail(req, MX_EINVALIDPARAM, "Invalid room id");
	const char *so = mx_req_query(req, "suggested_only");
	const char *limit_s = mx_req_query(req, "limit");
	const char *depth_s = mx_req_query(req, "max_depth");
	const char *from = mx_req_query(req, "from");
	if (so && strcmp(so, "true") && strcmp(so, "false"))
		return mx_req_fail(req, MX_EINVALIDPARAM, "suggested_only must be true or false");
	long limit = MX_HIERARCHY_LIMIT, max_depth = -1;
	/* SPEC: limit "Must be an integer greater than zero". */
	if (limit_s && (mx_spaces_int_param(limit_s, &limit) || limit == 0))
		return mx_req_fail(req, MX_EINVALIDPARAM, "limit must be a positive integer");
	if (depth_s && mx_spaces_int_param(depth_s, &max_depth))
		return mx_req_fail(req, MX_EINVALIDPARAM, "max_depth must be a non-negative integer");
	if (limit > MX_HIERARCHY_LIMIT)
		limit = MX_HIERARCHY_LIMIT;
	if (max_depth > MX_HIERARCHY_MAX_DEPTH)
		max_depth = MX_HIERARCHY_MAX_DEPTH;

	struct mx_spaces_state *st = mx_arena_alloc(&req->arena, sizeof(*st));
	st->local = (struct mx_hierarchy_local){.rooms = req->srv->rooms, .w = req->w,
						.server_name = req->srv->cfg->server_name,
						.user_id = req->auth.user_id};
	mx_hierarchy_source_local(&st->src, &st->local);
	st->suggested_only = so && !strcmp(so, "true");
	struct mx_hierarchy_params p = {.root = room_id, .suggested_only = st->suggested_only,
					.max_depth = (int)max_depth, .limit = (int)limit};
	p.params_hash = mx_hierarchy_params_hash(req->auth.user_id, room_id, p.suggested_only,
						 p.max_depth);
	struct mx_hierarchy_token tok;
	if (from) {
		/* SPEC: max_depth and suggested_only "cannot be changed from the
		 * first request": a token for other ones is refused. */
		if (mx_hierarchy_token_parse(&req->arena, from, p.params_hash, &tok))
			return mx_req_fail(req, MX_EINVALIDPARAM, "Unknown pagination token");
		p.from = &tok;
	}

	/* The root: unknown is 404, unseen 403 (SPEC: "The user cannot view or
	 * peek on the room"). */
	json_t *root;
	int rc = st->src.summary(st->src.ctx, &req->arena, room_id, false, false, &root);
	if (rc == MX_ENOTFOUND)
		return mx_req_fail(req, rc, "Unknown room");
	if (rc == MX_EFORBIDDEN)
		return mx_req_fail(req, rc, "You are not allowed to view this room");
	if (rc)
		return mx_req_fail(req, rc, NULL);
	st->wk = mx_hierarchy_walk_new(&req->arena, &st->src, &p);
	st->remote_deadline = mx_clock_mono_ms() + MX_SPACES_REMOTE_BUDGET_MS;
	*out = st;
	return 0;
}

/* SPEC: client-server-api#get_matrixclientv1roomsroomidhierarchy */
static int mx_spaces_hierarchy(struct mx_req *req)
{
	struct mx_spaces_state *st = req->handler_state;
	int rc;
	if (!st) {
		if ((rc = mx_spaces_start(req, &st)))
			return rc;
		req->handler_state = st;
	}
	/* A resumed request may run on another thread: use its connection. */
	st->local.w = req->w;
	for (;;) {
		if (st->f) {
			rc = mx_fanout_wait(st->f, req);
			if (rc == MX_ESUSPENDED)
				return rc;
			mx_spaces_collect(st);
		}
		rc = mx_hierarchy_walk_run(st->wk);
		if (rc < 0)
			return mx_req_fail(req, rc, NULL);
		if (rc == 0)
			return mx_req_reply_json(req, 200, mx_hierarchy_walk_result(st->wk));
		mx_spaces_ask(req, st);
	}
}

#define C MX_RES_CLIENT
const struct mx_route mx_spaces_routes[] = {
	{MX_GET, "/_matrix/client/v1/rooms/{roomId}/hierarchy", mx_spaces_hierarchy,
	 MX_ROUTE_AUTH | MX_ROUTE_GUEST, C, 0, 0},
};
const size_t mx_spaces_routes_count = MX_ARRAY_LEN(mx_spaces_routes);
