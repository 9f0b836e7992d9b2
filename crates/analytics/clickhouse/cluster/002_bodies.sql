-- Cluster variant of ../002_bodies.sql: the local tables first, then the Distributed one.
ALTER TABLE requests_local {on_cluster}
    ADD COLUMN request_body Nullable(String),
    ADD COLUMN response_body Nullable(String);

ALTER TABLE requests {on_cluster}
    ADD COLUMN request_body Nullable(String),
    ADD COLUMN response_body Nullable(String);
