/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Client-Server API's application service endpoints (ping) and the
 * start-up work: every registration's sender user exists.
 * SPEC: application-service-api#pinging-1
 */
#ifndef MX_APPSERVICE_API_H
#define MX_APPSERVICE_API_H

#include <stddef.h>

#include "http/router.h"

struct mx_server;

extern const struct mx_route mx_appservice_routes[];
extern const size_t mx_appservice_routes_count;

/* Create each registration's sender user if missing (audited). 0 or an error. */
int mx_appservices_ensure_senders(struct mx_server *srv);

#endif
