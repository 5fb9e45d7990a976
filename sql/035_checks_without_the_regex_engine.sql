-- Two CHECKs that every decision pays for ran PostgreSQL's regular-expression engine, about 7,000
-- instructions a row each (callgrind, a worker's backend): a decision's author and its content
-- hash. Each is now written with LIKE and trimming, which accept and refuse exactly the same
-- values (`SchemaConstraintsTests`), under the same constraint names.

-- `worker:…` or `admin:…`, something after the colon (`_` is any character, as `.` was).
ALTER TABLE decisions DROP CONSTRAINT decisions_decided_by_check,
    ADD CONSTRAINT decisions_decided_by_check CHECK (decided_by LIKE 'worker:_%' OR decided_by LIKE 'admin:_%');

-- 64 lowercase hexadecimal digits: 64 bytes, none left once the digits are trimmed.
ALTER TABLE decisions DROP CONSTRAINT decisions_content_sha256_check,
    ADD CONSTRAINT decisions_content_sha256_check
        CHECK (octet_length(content_sha256) = 64 AND ltrim(content_sha256, '0123456789abcdef') = '');
