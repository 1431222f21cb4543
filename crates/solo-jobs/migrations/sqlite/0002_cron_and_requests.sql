-- Cron entries' last tick: a scheduler owns a tick by moving last_tick_us
-- forward with a conditional upsert, so each tick runs once however many
-- schedulers race. last_job_id: the job its last tick enqueued.
CREATE TABLE jobs_cron (
    name          TEXT    PRIMARY KEY,
    last_tick_us  INTEGER NOT NULL,
    last_job_id   INTEGER
);
-- Answers to enqueue requests that carried an Idempotency-Key: a retried
-- request gets the first answer instead of enqueueing again.
CREATE TABLE jobs_requests (
    idempotency_key  TEXT    PRIMARY KEY,
    request_hash     TEXT    NOT NULL,
    response         TEXT    NOT NULL,
    created_at_us    INTEGER NOT NULL
);
CREATE INDEX jobs_requests_created ON jobs_requests (created_at_us);
