/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Error codes. Every fallible function returns 0 or a negative MX_E* value;
 * one table maps each code to its HTTP status and Matrix errcode, and only
 * the API layer turns a code into a response (STYLE.md rule 3).
 */
#ifndef MX_CORE_ERROR_H
#define MX_CORE_ERROR_H

enum mx_err {
	MX_OK = 0,
	MX_EUNKNOWN = -1,          /* 500 M_UNKNOWN */
	MX_EUNRECOGNIZED = -2,     /* 404 M_UNRECOGNIZED */
	MX_EBADMETHOD = -3,        /* 405 M_UNRECOGNIZED */
	MX_ENOTJSON = -4,          /* 400 M_NOT_JSON */
	MX_EBADJSON = -5,          /* 400 M_BAD_JSON */
	MX_ETOOLARGE = -6,         /* 413 M_TOO_LARGE */
	MX_EMISSINGTOKEN = -7,     /* 401 M_MISSING_TOKEN */
	MX_EUNKNOWNTOKEN = -8,     /* 401 M_UNKNOWN_TOKEN */
	MX_EFORBIDDEN = -9,        /* 403 M_FORBIDDEN */
	MX_ELIMIT = -10,           /* 429 M_LIMIT_EXCEEDED */
	MX_ENOTFOUND = -11,        /* 404 M_NOT_FOUND */
	MX_EMISSINGPARAM = -12,    /* 400 M_MISSING_PARAM */
	MX_EINVALIDPARAM = -13,    /* 400 M_INVALID_PARAM */
	MX_EUSERINUSE = -14,       /* 400 M_USER_IN_USE */
	MX_EINVALIDUSERNAME = -15, /* 400 M_INVALID_USERNAME */
	MX_EEXCLUSIVE = -16,       /* 400 M_EXCLUSIVE */
	MX_EUSERDEACTIVATED = -17, /* 403 M_USER_DEACTIVATED */
	MX_EGUESTDENIED = -18,     /* 403 M_GUEST_ACCESS_FORBIDDEN */
	MX_EUIA = -19,             /* 401, body is the UIA flow object */
	MX_EWEAKPASSWORD = -20,    /* 400 M_WEAK_PASSWORD */
	MX_EUNAUTHORIZED = -21,    /* 401 M_UNAUTHORIZED */
	MX_EDB = -22,              /* 500 M_UNKNOWN: database failure */
	MX_ECONFLICT = -23,        /* 409 M_UNKNOWN: a write lost a race */
	MX_ESERVERNOTTRUSTED = -24,/* 400 M_SERVER_NOT_TRUSTED */
	MX_EBADSTATE = -25,        /* 400 M_BAD_STATE */
	MX_EINVALIDROOMSTATE = -26,/* 400 M_INVALID_ROOM_STATE */
	MX_EROOMINUSE = -27,       /* 400 M_ROOM_IN_USE */
	MX_EUNSUPPORTEDROOMVERSION = -28, /* 400 M_UNSUPPORTED_ROOM_VERSION */
	MX_ETHREEPIDNOTFOUND = -29,/* 400 M_THREEPID_NOT_FOUND */
	MX_EUNAVAILABLE = -30,     /* 503 M_UNKNOWN: shutting down or overloaded */
	MX_ENOTYETUPLOADED = -31,  /* 504 M_NOT_YET_UPLOADED */
	MX_ECANNOTOVERWRITE = -32, /* 409 M_CANNOT_OVERWRITE_MEDIA */
	MX_EWRONGROOMKEYSVERSION = -33, /* 403 M_WRONG_ROOM_KEYS_VERSION */
	MX_EINVALID = -34,         /* internal: invalid input, no HTTP meaning */
	MX_EIO = -35,              /* internal: file or socket failure, 500 */
	MX_ERESOURCELIMIT = -36,   /* 403 M_RESOURCE_LIMIT_EXCEEDED */
	MX_ETOKENINCORRECT = -37,  /* 401 M_UNKNOWN_TOKEN for bad refresh tokens */
	MX_EBADREQUEST = -38,       /* 400 M_UNKNOWN: a request we understand but refuse */
	MX_EPROFILETOOLARGE = -39, /* 400 M_PROFILE_TOO_LARGE: profile over 64 KiB */
	MX_EKEYTOOLARGE = -40,     /* 400 M_KEY_TOO_LARGE: profile key over 255 bytes */
	MX_ESUSPENDED = -41,        /* internal: the handler parked the request */
	MX_EBADALIAS = -42,        /* 400 M_BAD_ALIAS: a canonical alias not pointing to the room */
	MX_EDUPLICATEANNOTATION = -43, /* 400 M_DUPLICATE_ANNOTATION: the same reaction twice */
	MX_EEXISTS = -44,           /* internal: already done (an idempotent retry) */
	MX_EREMOTE = -45,           /* 502 M_UNKNOWN: a remote server failed or is backed off */
	MX_E_COUNT_ = 46
};

/* HTTP status for a code (500 for unknown codes). */
int mx_error_status(int err);
/* Matrix errcode string for a code ("M_UNKNOWN" for unknown codes). */
const char *mx_error_errcode(int err);
/* A short English default message for a code. */
const char *mx_error_message(int err);

#endif
