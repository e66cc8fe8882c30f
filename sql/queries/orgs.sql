-- The organisation registry (fraudchannel/orgs.py). Every organisation row comes back with the same
-- columns, so fraudchannel.orgs.Organisation.from_record reads them all.

-- name: insert_org
-- Register one organisation. Raises unique_violation (organisations_slug_key) on a taken slug.
-- $1 slug, $2 legal_name, $3 role, $4 scheme, $5 expertise, $6 trust_tier, $7 contact_email,
-- $8 valid_from (NULL: now), $9 valid_until (NULL: no end)
INSERT INTO organisations
       (slug, legal_name, role, scheme, expertise, trust_tier, contact_email, valid_from, valid_until)
VALUES ($1::text, $2::text, $3::org_role, $4::org_scheme, $5::text[], $6::smallint, $7::text,
        coalesce($8::timestamptz, now()), $9::timestamptz)
RETURNING id, slug, legal_name, role, scheme, expertise, trust_tier, status, status_reason,
          valid_from, valid_until, contact_email, created_at, updated_at;

-- name: list_orgs
-- Organisations by slug, optionally only one status and/or role.
-- $1 status (NULL: any), $2 role (NULL: any)
SELECT id, slug, legal_name, role, scheme, expertise, trust_tier, status, status_reason,
       valid_from, valid_until, contact_email, created_at, updated_at
  FROM organisations
 WHERE ($1::org_status IS NULL OR status = $1::org_status)
   AND ($2::org_role IS NULL OR role = $2::org_role)
 ORDER BY slug;

-- name: get_org
-- One organisation by slug, or no row.
-- $1 slug
SELECT id, slug, legal_name, role, scheme, expertise, trust_tier, status, status_reason,
       valid_from, valid_until, contact_email, created_at, updated_at
  FROM organisations
 WHERE slug = $1::text;

-- name: set_org_status
-- Move an organisation to status $2 when it is in one of the statuses $3; no row when it is not
-- (or does not exist). $1 slug, $2 new status, $3 statuses it may leave, $4 reason (NULL: none)
UPDATE organisations
   SET status = $2::org_status, status_reason = $4::text, updated_at = now()
 WHERE slug = $1::text AND status = ANY ($3::org_status[])
RETURNING id, slug, legal_name, role, scheme, expertise, trust_tier, status, status_reason,
          valid_from, valid_until, contact_email, created_at, updated_at;

-- name: insert_key
-- Register a public key for the organisation with slug $1; no row when there is no such
-- organisation. Raises unique_violation (org_keys_org_kid_key, org_keys_org_thumbprint_key) when
-- the kid, or the key itself, is already registered for it.
-- $1 slug, $2 kid, $3 alg, $4 public jwk, $5 RFC 7638 thumbprint
INSERT INTO org_keys (org_id, kid, alg, jwk, thumbprint)
SELECT o.id, $2::text, $3::text, $4::jsonb, $5::text
  FROM organisations AS o
 WHERE o.slug = $1::text
RETURNING id, org_id, kid, alg, jwk, thumbprint, status, created_at, revoked_at;

-- name: list_keys
-- The keys of the organisation with slug $1, newest first; revoked ones too unless $2.
-- $1 slug, $2 active_only
SELECT k.id, k.org_id, k.kid, k.alg, k.jwk, k.thumbprint, k.status, k.created_at, k.revoked_at
  FROM org_keys AS k
  JOIN organisations AS o ON o.id = k.org_id
 WHERE o.slug = $1::text AND (NOT $2::boolean OR k.status = 'active')
 ORDER BY k.created_at DESC, k.kid;

-- name: revoke_key
-- Revoke the active key $2 of the organisation with slug $1; no row when there is no such key.
-- $1 slug, $2 kid
UPDATE org_keys AS k
   SET status = 'revoked', revoked_at = now()
  FROM organisations AS o
 WHERE o.id = k.org_id AND o.slug = $1::text AND k.kid = $2::text AND k.status = 'active'
RETURNING k.id, k.org_id, k.kid, k.alg, k.jwk, k.thumbprint, k.status, k.created_at, k.revoked_at;

-- name: key_status
-- The status of key $2 of the organisation with slug $1, or no row (explains a failed revoke).
-- $1 slug, $2 kid
SELECT k.status
  FROM org_keys AS k
  JOIN organisations AS o ON o.id = k.org_id
 WHERE o.slug = $1::text AND k.kid = $2::text;

-- name: update_org
-- Change an organisation's details (not its slug, role or status); a NULL leaves a field as it
-- is. No row when there is no such organisation or it is revoked (final). Raises check_violation
-- (organisations_validity_check) when the validity would end before it starts.
-- $1 slug, $2 legal_name, $3 scheme, $4 expertise, $5 trust_tier, $6 contact_email,
-- $7 valid_from, $8 valid_until, $9 no end date (valid_until becomes NULL)
UPDATE organisations
   SET legal_name    = coalesce($2::text, legal_name),
       scheme        = coalesce($3::org_scheme, scheme),
       expertise     = coalesce($4::text[], expertise),
       trust_tier    = coalesce($5::smallint, trust_tier),
       contact_email = coalesce($6::text, contact_email),
       valid_from    = coalesce($7::timestamptz, valid_from),
       valid_until   = CASE WHEN $9::boolean THEN NULL
                            ELSE coalesce($8::timestamptz, valid_until) END,
       updated_at    = now()
 WHERE slug = $1::text AND status <> 'revoked'
RETURNING id, slug, legal_name, role, scheme, expertise, trust_tier, status, status_reason,
          valid_from, valid_until, contact_email, created_at, updated_at;
