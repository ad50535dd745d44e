/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Request authentication (access tokens from the Authorization header) and
 * the per-route rate limits. Each returns 0, or replies with the error and
 * returns it.
 */
#ifndef MX_HTTP_AUTH_H
#define MX_HTTP_AUTH_H

struct mx_req;
struct mx_appservice;

int mx_http_auth(struct mx_req *req);
int mx_http_ratelimit(struct mx_req *req);
/*
 * The registration whose as_token is the request's Bearer token, or NULL:
 * for routes without authentication that accept an appservice (/register).
 */
const struct mx_appservice *mx_http_appservice_of(struct mx_req *req);
/*
 * Reply 429 M_LIMIT_EXCEEDED with retry_after_ms and Retry-After, for
 * handlers that apply their own limits (login by account). Returns MX_ELIMIT.
 */
int mx_http_fail_ratelimited(struct mx_req *req, long long retry_after_ms);

#endif
