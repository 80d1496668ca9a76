-- Where each load selection (scope: the shard and the DAC filter) has read the lake's parquet change
-- journal to (lib/load/cursor.ts): the next load of that scope loads only the floats changed since.
-- A scope without a row gets a full load, which writes it.
CREATE TABLE load_cursors (
  scope       text PRIMARY KEY,
  cursor      jsonb NOT NULL,
  updated_at  timestamptz NOT NULL DEFAULT now()
);
