-- The relay looks up the earlier events of a row's key before claiming it (each key's events go out in order).
CREATE INDEX outbox_key_order ON outbox (topic, key, id);
