/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `myelin register-user`: create an account through the shared-secret
 * registration API of a running server, the equivalent of Synapse's
 * register_new_matrix_user (same options, same request), so it also works
 * against Synapse.
 */
#ifndef MX_ADMIN_CLI_H
#define MX_ADMIN_CLI_H

/*
 * Run the command. argv[0] is "register-user"; the options are
 *   -c/--config FILE      read registration_shared_secret and the admin
 *                         listener's address from a homeserver.yaml
 *   -u/--user NAME        localpart to register
 *   -p/--password PASS    (or --password-file FILE: its first line)
 *   -t/--user_type TYPE   Synapse user type ("support", "bot")
 *   -a/--admin, --no-admin
 *   -k/--shared-secret S  overrides the config's secret
 *   --exists-ok           succeed if the user already exists
 *   [URL]                 server base URL (default: the admin listener)
 * Missing user, password and admin flag are prompted for when stdin is a
 * terminal (the password twice, without echo); otherwise a missing user or
 * password is an error. Prints "Success!" and returns 0, or prints the
 * server's error and returns 1 (2 for a usage error).
 */
int mx_cli_register_user(int argc, char **argv);

#endif
