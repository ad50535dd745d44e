-- SPDX-License-Identifier: Apache-2.0
-- URL previews (SPEC: client-server-api#get_matrixclientv1mediapreview_url):
-- the OpenGraph JSON answered for a URL at a point in time (ts rounded
-- down to the cache period), kept until expires_ts. An og:image is stored
-- as local media, whose id the JSON names.
CREATE TABLE url_previews (
    url TEXT NOT NULL,
    ts INTEGER NOT NULL,
    og TEXT NOT NULL,
    expires_ts INTEGER NOT NULL,
    PRIMARY KEY (url, ts)
);
CREATE INDEX url_previews_expiry ON url_previews (expires_ts);
-- When local media was last downloaded (NULL: never); `myelin media purge`
-- removes media neither accessed nor created since a date.
ALTER TABLE local_media ADD COLUMN last_access_ts INTEGER;
