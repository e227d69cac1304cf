-- PostgreSQL twin of worker/store/migrations/0007_list_numbers_currencies.sql: the same tables, columns and meaning
-- (ids BIGINT identity; times stay the text the code writes).
-- Account numbers, vendor codes and currencies from the QuickBooks lists, and the company file's
-- own settings: planners resolve an account by its number (issue 19), a vendor by its code
-- (issues 12, 13) and keep a bill in its vendor's currency (issue 13).
ALTER TABLE qb_lists ADD COLUMN account_number TEXT;  -- Account/Vendor/Employee/OtherName AccountNumber
ALTER TABLE qb_lists ADD COLUMN currency TEXT;        -- CurrencyRef FullName (Account, Vendor); CurrencyCode for Currency
CREATE INDEX qb_lists_by_number ON qb_lists (company, list_type, account_number);
ALTER TABLE qb_company ADD COLUMN account_numbers INTEGER;  -- AccountingPreferences/IsUsingAccountNumbers
ALTER TABLE qb_company ADD COLUMN country TEXT;             -- CompanyRet Address/Country, else HostRet Country
