-- A document waiting for another document's vendor write (wait = 'vendor') names that write: the
-- planner leaves it alone until QuickBooks has answered that outbox row, instead of planning it
-- again after every answer only to find it still waiting. NULL (rows from before): it waits for
-- every vendor write in flight of its company, as before.
ALTER TABLE documents ADD COLUMN wait_posting BIGINT;
