/* SPDX-License-Identifier: Apache-2.0 */
/* The Server-Server API's route tables. */
#ifndef MX_FEDERATION_ROUTES_H
#define MX_FEDERATION_ROUTES_H

#include <stddef.h>

#include "http/router.h"

extern const struct mx_route mx_federation_routes[];
extern const size_t mx_federation_routes_count;
extern const struct mx_route mx_federation_media_routes[];
extern const size_t mx_federation_media_routes_count;
extern const struct mx_route mx_federation_user_keys_routes[];
extern const size_t mx_federation_user_keys_routes_count;
extern const struct mx_route mx_federation_query_routes[];
extern const size_t mx_federation_query_routes_count;
extern const struct mx_route mx_federation_transaction_routes[];
extern const size_t mx_federation_transaction_routes_count;
extern const struct mx_route mx_federation_hierarchy_routes[];
extern const size_t mx_federation_hierarchy_routes_count;

#endif
