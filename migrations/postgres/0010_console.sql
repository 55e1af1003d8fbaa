-- The operator console (src/console/): payments search and the record of operators' writes.

-- Payment search pages newest first by id (ULIDs sort by creation time, so a time range is an id
-- range): by status, and by merchant. A merchant_order_no lookup uses the orders' unique key.
CREATE INDEX orders_status_id ON orders (status, id);
CREATE INDEX orders_merchant_id ON orders (merchant_id, id);
-- Searches by channel or method go through the flows of the page's orders.
CREATE INDEX flows_method_order ON flows (method, order_id);
CREATE INDEX flows_channel_order ON flows (channel, order_id);

-- Every write an operator made from the console or the admin API: who, when, what.
CREATE TABLE admin_audit (
  id TEXT PRIMARY KEY,
  at BIGINT NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  target TEXT NOT NULL,
  detail JSONB NOT NULL
);
