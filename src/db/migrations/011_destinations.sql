-- SPDX-License-Identifier: Apache-2.0
-- The health of each federation destination (DESIGN.md "Federation
-- manners"; federation/destinations.h): consecutive failures, the current
-- backoff interval, when the next attempt may be made (0: not backed off)
-- and the last successful request, all times in ms since the epoch. Shared
-- by every kind of outbound request and kept across restarts.
CREATE TABLE destinations (
    destination TEXT PRIMARY KEY NOT NULL,
    failures INTEGER NOT NULL DEFAULT 0,
    retry_interval_ms INTEGER NOT NULL DEFAULT 0,
    retry_at_ms INTEGER NOT NULL DEFAULT 0,
    last_success_ms INTEGER NOT NULL DEFAULT 0
);
