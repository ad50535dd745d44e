/* SPDX-License-Identifier: Apache-2.0 */
/* The one table from MX_E* codes to HTTP statuses and Matrix errcodes. */
#include "core/error.h"

struct mx_error_row {
	int status;
	const char *errcode;
	const char *message;
};

static const struct mx_error_row mx_error_table[MX_E_COUNT_] = {
	[0] = {200, "M_UNKNOWN", "OK"},
	[1] = {500, "M_UNKNOWN", "Internal server error"},
	[2] = {404, "M_UNRECOGNIZED", "Unrecognized request"},
	[3] = {405, "M_UNRECOGNIZED", "Method not allowed"},
	[4] = {400, "M_NOT_JSON", "Content not JSON"},
	[5] = {400, "M_BAD_JSON", "Malformed JSON"},
	[6] = {413, "M_TOO_LARGE", "Request too large"},
	[7] = {401, "M_MISSING_TOKEN", "Missing access token"},
	[8] = {401, "M_UNKNOWN_TOKEN", "Unrecognised access token"},
	[9] = {403, "M_FORBIDDEN", "Forbidden"},
	[10] = {429, "M_LIMIT_EXCEEDED", "Too many requests"},
	[11] = {404, "M_NOT_FOUND", "Not found"},
	[12] = {400, "M_MISSING_PARAM", "Missing parameter"},
	[13] = {400, "M_INVALID_PARAM", "Invalid parameter"},
	[14] = {400, "M_USER_IN_USE", "User ID already taken"},
	[15] = {400, "M_INVALID_USERNAME", "Invalid user name"},
	[16] = {400, "M_EXCLUSIVE", "Reserved by an application service"},
	[17] = {403, "M_USER_DEACTIVATED", "User account has been deactivated"},
	[18] = {403, "M_GUEST_ACCESS_FORBIDDEN", "Guest access not allowed"},
	[19] = {401, "M_FORBIDDEN", "Additional authentication required"},
	[20] = {400, "M_WEAK_PASSWORD", "Password too weak"},
	[21] = {401, "M_UNAUTHORIZED", "Unauthorized"},
	[22] = {500, "M_UNKNOWN", "Database error"},
	[23] = {409, "M_UNKNOWN", "Conflict"},
	[24] = {400, "M_SERVER_NOT_TRUSTED", "Server not trusted"},
	[25] = {400, "M_BAD_STATE", "Bad state"},
	[26] = {400, "M_INVALID_ROOM_STATE", "Invalid room state"},
	[27] = {400, "M_ROOM_IN_USE", "Room alias already taken"},
	[28] = {400, "M_UNSUPPORTED_ROOM_VERSION", "Unsupported room version"},
	[29] = {400, "M_THREEPID_NOT_FOUND", "Third-party identifier not found"},
	[30] = {503, "M_UNKNOWN", "Service unavailable"},
	[31] = {504, "M_NOT_YET_UPLOADED", "Media not yet uploaded"},
	[32] = {409, "M_CANNOT_OVERWRITE_MEDIA", "Media already uploaded"},
	[33] = {403, "M_WRONG_ROOM_KEYS_VERSION", "Wrong backup version"},
	[34] = {400, "M_INVALID_PARAM", "Invalid input"},
	[35] = {500, "M_UNKNOWN", "I/O error"},
	[36] = {403, "M_RESOURCE_LIMIT_EXCEEDED", "Resource limit exceeded"},
	[37] = {401, "M_UNKNOWN_TOKEN", "Invalid refresh token"},
	[38] = {400, "M_UNKNOWN", "Bad request"},
	[39] = {400, "M_PROFILE_TOO_LARGE", "Profile too large"},
	[40] = {400, "M_KEY_TOO_LARGE", "Profile key too long"},
	[41] = {500, "M_UNKNOWN", "Request parked"},
	[42] = {400, "M_BAD_ALIAS", "Alias does not point to this room"},
	[43] = {400, "M_DUPLICATE_ANNOTATION", "Duplicate annotation"},
	[44] = {409, "M_UNKNOWN", "Already exists"},
	[45] = {502, "M_UNKNOWN", "Remote server unavailable"},
};

static const struct mx_error_row *mx_error_row(int err)
{
	int i = -err;
	if (i <= 0 || i >= MX_E_COUNT_)
		return &mx_error_table[1];
	return &mx_error_table[i];
}

int mx_error_status(int err)
{
	return mx_error_row(err)->status;
}

const char *mx_error_errcode(int err)
{
	return mx_error_row(err)->errcode;
}

const char *mx_error_message(int err)
{
	return mx_error_row(err)->message;
}
