-- Where the events of the owner's last recorded commit begin: a take
-- checks that they are committed in Kafka, since a broker that stops can
-- leave a commit's events open and a later abort can take them with it.
ALTER TABLE partitions ADD COLUMN last_commit_from INTEGER;
