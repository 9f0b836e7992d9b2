-- Optional request/response bodies, stored only when the org enables it and redacted upstream.
-- One ALTER with both columns, so it applies atomically (18.16 has no ADD COLUMN IF NOT EXISTS).
ALTER TABLE requests {on_cluster}
    ADD COLUMN request_body Nullable(String),
    ADD COLUMN response_body Nullable(String);
