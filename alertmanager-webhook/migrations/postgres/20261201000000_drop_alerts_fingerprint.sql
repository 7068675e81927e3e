-- No query reads alerts_fingerprint: the audit API's filter (`$1 IS NULL OR fingerprint = $1`)
-- is planned as a scan of the newest alerts whether or not the index exists. With a fingerprint
-- per alert spread over the whole key range, keeping it up to date wrote one random index page
-- per stored alert, most of what each commit wrote.
DROP INDEX IF EXISTS alerts_fingerprint;
