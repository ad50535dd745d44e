/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The admin API's route tables (/_synapse/admin, /_myelin/admin). Every
 * route in them has resource MX_RES_ADMIN only, so they are served on the
 * listener naming "admin" (localhost by default) and never on the client
 * listener.
 */
#ifndef MX_ADMIN_ROUTES_H
#define MX_ADMIN_ROUTES_H

#include <stddef.h>

#include "http/router.h"

extern const struct mx_route mx_admin_routes[];
extern const size_t mx_admin_routes_count;

#endif
