-- How a structure's emails present it (issue 21): a display name, an https logo, an accent
-- colour and the contact shown in every email's footer. All optional: a structure without them
-- gets the neutral design.
--
-- The checks repeat the structures contract's rules (`structures apply` refuses a bad value
-- first, with its path and the accepted form) so that a value written behind the product's back
-- cannot put an `http:`/`javascript:` image or a CSS fragment into the family's email. The
-- renderer checks both again before using them, and escapes every value.
ALTER TABLE structures
    ADD COLUMN display_name text CHECK (char_length(display_name) BETWEEN 1 AND 120),
    ADD COLUMN logo_url text CHECK (
        char_length(logo_url) <= 2000 AND logo_url ~ '^[Hh][Tt][Tt][Pp][Ss]://[^/]' AND logo_url ~ '^[!#-&*-;=?-\[\]-_a-~]+$'),
    ADD COLUMN accent_color text CHECK (accent_color ~ '^#[0-9a-f]{6}$'),
    ADD COLUMN contact_phone text CHECK (char_length(contact_phone) BETWEEN 1 AND 40),
    ADD COLUMN contact_address text CHECK (char_length(contact_address) BETWEEN 1 AND 300),
    ADD COLUMN contact_hours text CHECK (char_length(contact_hours) BETWEEN 1 AND 300);
