-- PostgreSQL twin of worker/store/migrations/0013_payments.sql: the same tables, columns and meaning
-- (ids BIGINT identity; times stay the text the code writes).
-- What Concur paid and what the worker recorded for it in QuickBooks (issue 20).

-- shared.types.PaymentState: '' (nothing paid in Concur yet) | paid_in_concur | payment_posted |
-- partial | held. The worker decides on this column, never on the reason text.
ALTER TABLE documents ADD COLUMN payment TEXT NOT NULL DEFAULT '';
-- What Concur says it paid (P_PAID): amount (2 decimals) and date, from the document's content.
ALTER TABLE documents ADD COLUMN concur_paid_amount TEXT;
ALTER TABLE documents ADD COLUMN concur_paid_date TEXT;
-- What the worker's bill payments recorded in QuickBooks so far (2 decimals), and the TxnID of the
-- last payment: ours, or the one QuickBooks already showed when the payment was held.
ALTER TABLE documents ADD COLUMN payment_recorded TEXT;
ALTER TABLE documents ADD COLUMN payment_txn_id TEXT NOT NULL DEFAULT '';

-- A bill payment row (op BillPaymentCheckAdd, needs = 'balance') first asks QuickBooks what is still open on the bill (or the journal entry's
-- A/P credit): the query (qbXML, built when queued), what the payment pays and what QuickBooks
-- should still show open if nobody else paid it.
ALTER TABLE postings ADD COLUMN check_xml TEXT NOT NULL DEFAULT '';
ALTER TABLE postings ADD COLUMN amount TEXT;
ALTER TABLE postings ADD COLUMN expected_open TEXT;
ALTER TABLE postings ADD COLUMN pays_txn_id TEXT NOT NULL DEFAULT '';  -- the bill or journal entry it pays

CREATE INDEX documents_payment ON documents (company, payment) WHERE payment = 'paid_in_concur';
