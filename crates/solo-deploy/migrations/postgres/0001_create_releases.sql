-- Releases: immutable directories of the app, one per deploy.
CREATE TABLE deploy_releases (
    id               BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    app              TEXT    NOT NULL,
    version          TEXT    NOT NULL,
    commit_sha       TEXT    NOT NULL,
    committed_at_us  BIGINT,
    dir              TEXT    NOT NULL,
    checksum         TEXT    NOT NULL,
    created_by       TEXT    NOT NULL,
    created_at_us    BIGINT  NOT NULL,
    pruned_at_us     BIGINT,
    UNIQUE (app, version)
);

-- Runs: every attempt to make a release serve (deploy, rollback, automatic
-- rollback), with its steps and outcome. state: running, live, failed,
-- superseded (was live, replaced by a later run), interrupted (solo stopped
-- mid-run).
CREATE TABLE deploy_runs (
    id               BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    app              TEXT    NOT NULL,
    kind             TEXT    NOT NULL,
    version          TEXT    NOT NULL,
    previous_version TEXT,
    release_id       BIGINT  NOT NULL REFERENCES deploy_releases (id),
    previous_id      BIGINT  REFERENCES deploy_releases (id),
    actor            TEXT    NOT NULL,
    reason           TEXT,
    state            TEXT    NOT NULL,
    steps            TEXT    NOT NULL DEFAULT '[]',
    error            TEXT,
    log_tail         TEXT,
    started_at_us    BIGINT  NOT NULL,
    finished_at_us   BIGINT
);
CREATE INDEX deploy_runs_app ON deploy_runs (app, id);

-- Which release serves each app: changed only at a switch.
CREATE TABLE deploy_current (
    app              TEXT    PRIMARY KEY,
    release_id       BIGINT  NOT NULL REFERENCES deploy_releases (id),
    run_id           BIGINT  NOT NULL REFERENCES deploy_runs (id),
    since_us         BIGINT  NOT NULL
);
