-- SPDX-License-Identifier: Apache-2.0
-- The cache of media fetched from other servers over federation
-- (SPEC: server-server-api#content-repository). The bytes share the
-- content-addressed files of local media (media_store_path/content/...),
-- so an image posted on two servers is stored once. `myelin media purge`
-- drops rows not accessed since a date, then the files nothing names.
CREATE TABLE remote_media (
    origin TEXT NOT NULL,
    media_id TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    size INTEGER NOT NULL,
    content_type TEXT,
    upload_name TEXT,
    fetched_ts INTEGER NOT NULL,
    -- last recorded download (hour precision)
    last_access_ts INTEGER NOT NULL,
    PRIMARY KEY (origin, media_id)
);
CREATE INDEX remote_media_by_hash ON remote_media (sha256);
CREATE INDEX remote_media_by_access ON remote_media (last_access_ts);
