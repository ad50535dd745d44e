-- SPDX-License-Identifier: Apache-2.0
-- Federation transactions in both directions (federation/sender.h,
-- federation/transactions.c, store/federation.h;
-- docs/internals/federation-sender.md).

-- The outbox: EDUs waiting for their destination, written in the same
-- transaction as the request that caused them and deleted once the
-- destination answered the transaction that carried them. ids are never
-- reused (AUTOINCREMENT): a transaction id names the range of rows it
-- carries, so a retry after a restart sends the same id for the same rows.
CREATE TABLE fed_outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    destination TEXT NOT NULL,
    edu_type TEXT NOT NULL,
    content TEXT NOT NULL,     -- the EDU's content, JSON text
    created_ts INTEGER NOT NULL
);
CREATE INDEX fed_outbox_by_destination ON fed_outbox (destination, id);

-- Inbound transactions already processed, with the answer they got: a
-- retried transaction is answered the same without being processed again.
-- Pruned after a day.
CREATE TABLE fed_inbound_txns (
    origin TEXT NOT NULL,
    txn_id TEXT NOT NULL,
    response TEXT NOT NULL,
    received_ts INTEGER NOT NULL,
    PRIMARY KEY (origin, txn_id)
);
CREATE INDEX fed_inbound_txns_by_ts ON fed_inbound_txns (received_ts);

-- message_id of each m.direct_to_device EDU delivered, per origin: the
-- same message in another transaction is delivered once. Pruned after a day.
CREATE TABLE fed_to_device_seen (
    origin TEXT NOT NULL,
    message_id TEXT NOT NULL,
    received_ts INTEGER NOT NULL,
    PRIMARY KEY (origin, message_id)
);
CREATE INDEX fed_to_device_seen_by_ts ON fed_to_device_seen (received_ts);
