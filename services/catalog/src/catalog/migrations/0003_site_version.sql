-- Sites get a version too: an admin change must name the version it was made from (optimistic concurrency).
ALTER TABLE site ADD COLUMN version integer NOT NULL DEFAULT 1;
