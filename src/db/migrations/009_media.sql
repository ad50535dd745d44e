-- SPDX-License-Identifier: Apache-2.0
-- The content repository (SPEC: client-server-api#content-repository):
-- one row per local media id. Files are content-addressed on disk by
-- their SHA-256 (media_store_path/content/ab/cd/<hex>), so identical
-- uploads share one file; a row with sha256 NULL is an async upload
-- (POST /media/v1/create) still waiting for its bytes.
CREATE TABLE local_media (
    media_id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    created_ts INTEGER NOT NULL,
    -- pending rows only: when the unused id stops being uploadable
    expires_ts INTEGER,
    -- hex SHA-256 of the content; NULL until uploaded
    sha256 TEXT,
    size INTEGER,
    content_type TEXT,
    upload_name TEXT,
    uploaded_ts INTEGER
);
CREATE INDEX local_media_pending ON local_media (user_id, expires_ts) WHERE sha256 IS NULL;
CREATE INDEX local_media_by_hash ON local_media (sha256);
