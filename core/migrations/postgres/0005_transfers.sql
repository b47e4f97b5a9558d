-- Schema version 5: "not my machine" hand-overs. When an owner names the
-- real owner, the machine is asked of that person with `transfer_from` set
-- to whoever passed it on; once the named person answers anything but "not
-- mine", they become the machine's responsible owner (source 'answer') and
-- `transfer_from` is cleared, in the transaction that records the answer.
ALTER TABLE campaign_machines ADD COLUMN transfer_from TEXT;
