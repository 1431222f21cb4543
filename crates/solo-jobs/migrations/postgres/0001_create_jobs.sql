-- Durable jobs. States: 0 scheduled, 1 available, 2 retryable (all three
-- claimable once run_at_us has passed), 3 running, 4 completed,
-- 5 discarded, 6 cancelled. Times are unix microseconds.
CREATE TABLE jobs (
    id               BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    queue            TEXT    NOT NULL,
    kind             TEXT    NOT NULL,
    payload          TEXT    NOT NULL,
    priority         BIGINT  NOT NULL DEFAULT 0,
    run_at_us        BIGINT  NOT NULL,
    state            BIGINT  NOT NULL,
    attempt          BIGINT  NOT NULL DEFAULT 0,
    max_attempts     BIGINT  NOT NULL,
    unique_key       TEXT,
    tags             TEXT    NOT NULL DEFAULT '',
    errors           TEXT    NOT NULL DEFAULT '[]',
    -- What the last successful attempt printed (command delivery).
    output           TEXT,
    locked_by        TEXT,
    locked_until_us  BIGINT,
    created_at_us    BIGINT  NOT NULL,
    finished_at_us   BIGINT
);
CREATE INDEX jobs_claim ON jobs (queue, priority, run_at_us, id) WHERE state <= 2;
CREATE UNIQUE INDEX jobs_unique ON jobs (unique_key) WHERE unique_key IS NOT NULL AND state <= 3;
CREATE INDEX jobs_leases ON jobs (locked_until_us) WHERE state = 3;
CREATE INDEX jobs_finished ON jobs (finished_at_us) WHERE state >= 4;
