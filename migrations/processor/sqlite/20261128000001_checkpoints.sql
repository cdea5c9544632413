-- How far the document pipeline has read the log: for each partition, the
-- offset before which every upload's processing has been seen through.
CREATE TABLE checkpoints (
    partition   INTEGER PRIMARY KEY NOT NULL,
    next_offset INTEGER NOT NULL
) STRICT;
