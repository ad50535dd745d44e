/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Client-Server API's route tables, one per spec module, and the
 * shared helpers of its handlers. main.c adds every table to the router.
 */
#ifndef MX_CLIENT_ROUTES_H
#define MX_CLIENT_ROUTES_H

#include <stddef.h>
#include <stdint.h>

#include "http/router.h"

#define MX_ROUTE_TABLE(name)                          \
	extern const struct mx_route name##_routes[]; \
	extern const size_t name##_routes_count

MX_ROUTE_TABLE(mx_discovery);
MX_ROUTE_TABLE(mx_account);
MX_ROUTE_TABLE(mx_devices);
MX_ROUTE_TABLE(mx_profile);
MX_ROUTE_TABLE(mx_account_data);
MX_ROUTE_TABLE(mx_membership);
MX_ROUTE_TABLE(mx_create_room);
MX_ROUTE_TABLE(mx_room_events);
MX_ROUTE_TABLE(mx_sync);
MX_ROUTE_TABLE(mx_filter);
MX_ROUTE_TABLE(mx_typing);
MX_ROUTE_TABLE(mx_receipts);
MX_ROUTE_TABLE(mx_presence);
MX_ROUTE_TABLE(mx_tags);
MX_ROUTE_TABLE(mx_user_directory);
MX_ROUTE_TABLE(mx_relations);
MX_ROUTE_TABLE(mx_directory);
MX_ROUTE_TABLE(mx_report);
MX_ROUTE_TABLE(mx_upgrade);
MX_ROUTE_TABLE(mx_pushrules);
MX_ROUTE_TABLE(mx_pushers);
MX_ROUTE_TABLE(mx_media);
MX_ROUTE_TABLE(mx_keys);
MX_ROUTE_TABLE(mx_to_device);
MX_ROUTE_TABLE(mx_key_backup);
MX_ROUTE_TABLE(mx_cross_signing);
MX_ROUTE_TABLE(mx_search);
MX_ROUTE_TABLE(mx_spaces);

extern const char *const mx_room_versions[];
extern const size_t mx_room_versions_count;

/* "t<nid>" or a /sync token -> an events stream position; MX_EINVALIDPARAM. */
int mx_client_parse_position(const char *tok, int64_t *pos);

#endif
