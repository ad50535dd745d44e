/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Inbound request authentication for the Server-Server API: the X-Matrix
 * signature of every MX_ROUTE_FEDERATION request is checked against the
 * origin's key. A key we hold in memory is checked at once; otherwise the
 * request is parked while a job thread fetches it (never an HTTP thread).
 * SPEC: server-server-api#request-authentication
 */
#ifndef MX_FEDERATION_AUTH_H
#define MX_FEDERATION_AUTH_H

struct mx_req;

/*
 * srv->fed_auth. Returns 0 with req->auth.origin set; MX_ESUSPENDED after
 * parking the request (the server calls it again on resume); or a replied
 * error: 401 M_UNAUTHORIZED for a missing, malformed or bad signature, a
 * wrong destination or an unknown key, 400 M_NOT_JSON for a body that is not
 * JSON, 502 when the origin's keys could not be fetched.
 */
int mx_fed_authenticate(struct mx_req *req);

#endif
