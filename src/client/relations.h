/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Event relationships for clients: bundled aggregations in
 * unsigned["m.relations"] (aggregations.c), GET /relations and GET
 * /threads (relations.c, route table mx_relations_routes in
 * client/routes.h), and the checks on relations a local client sends.
 * SPEC: client-server-api#forming-relationships-between-events
 */
#ifndef MX_CLIENT_RELATIONS_H
#define MX_CLIENT_RELATIONS_H

#include <jansson.h>

struct mx_req;
struct mx_store_event;
struct mx_format_opts;

/*
 * Add the bundled aggregations of ev (SPEC:
 * client-server-api#aggregations-of-child-events) to unsig as
 * "m.relations": m.replace (the most recent valid edit, as a client event),
 * m.thread ({latest_event, count, current_user_participated}) and
 * m.reference ({chunk: [{event_id}]}); m.annotation is not aggregated.
 * pdu is ev's (possibly redacted) PDU, borrowed. Adds nothing for state
 * events, for events without children, and for events already nested in
 * another bundle beyond one level. Costs one indexed query when ev has no
 * children. Called by mx_client_format_event only.
 */
void mx_relations_bundle(struct mx_req *req, const struct mx_store_event *ev, const json_t *pdu,
			 const struct mx_format_opts *o, json_t *unsig);

/*
 * Checks on the relation in content (borrowed) that the requesting user
 * is about to send as an event of type into room_id. Returns 0, or replies
 * with the error and returns it: 400 for a parent in another room, an
 * m.thread off an event that has a relation itself (SPEC:
 * client-server-api#validation-of-mthread-relationships), an m.annotation
 * without a string key, and 400 M_DUPLICATE_ANNOTATION for a second
 * identical live annotation (SPEC: client-server-api#avoiding-duplicate-annotations).
 * Invalid edits are not refused: the spec has them ignored when
 * aggregating, which mx_relations_bundle does.
 */
int mx_relations_check_send(struct mx_req *req, const char *room_id, const char *type,
			    const json_t *content);

#endif
