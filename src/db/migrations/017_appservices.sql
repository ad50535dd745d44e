-- SPDX-License-Identifier: Apache-2.0
-- Application services (appservice/sender.h, store/appservice.h).

-- Per registration id: its position in the events stream. last_nid is the
-- newest event nid handled (pushed or found uninteresting). A transaction
-- being sent is recorded before its first try (pending_txn, its body, and
-- pending_upto: it carries the events after last_nid up to there), so a
-- retry, also after a restart, sends the same txnId with the same body.
CREATE TABLE appservice_state (
    as_id TEXT PRIMARY KEY NOT NULL,
    last_nid INTEGER NOT NULL,
    next_txn INTEGER NOT NULL DEFAULT 1,
    pending_txn INTEGER,
    pending_upto INTEGER,
    pending_body TEXT
);
