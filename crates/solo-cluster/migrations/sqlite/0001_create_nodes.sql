-- One row per solo node that has run against this database.
CREATE TABLE cluster_nodes (
    node_id         TEXT    PRIMARY KEY,
    hostname        TEXT    NOT NULL,
    version         TEXT    NOT NULL,
    listen          TEXT    NOT NULL,
    started_at_ms   INTEGER NOT NULL,
    heartbeat_at_ms INTEGER NOT NULL,
    stopped_at_ms   INTEGER
);
CREATE INDEX cluster_nodes_heartbeat ON cluster_nodes (heartbeat_at_ms);
