-- batch_requests: which request is which line of a provider batch. One row per request sent in
-- a batch; written in the same transaction as its batches row, and moved with it to the
-- provider's batch id. Results are matched back to requests through custom_id, because request
-- ids need not fit the providers' custom_id rules.
CREATE TABLE IF NOT EXISTS batch_requests (
    batch_id     VARCHAR NOT NULL,  -- batches.batch_id
    custom_id    VARCHAR NOT NULL,  -- the id sent with the request: <submission id>-<position>
    request_id   VARCHAR NOT NULL,  -- traffic.request_id
    request_hash VARCHAR NOT NULL,  -- sha256 of what was sent; becomes responses.request_hash
    PRIMARY KEY (batch_id, custom_id)
);
