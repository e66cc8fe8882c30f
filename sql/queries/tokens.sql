-- Client assertions, access tokens and the service's signing keys (fraudchannel/assertions.py,
-- tokens.py, service_keys.py).

-- name: client_key
-- The active key $2 of the organisation whose slug is $1, with that organisation's standing at
-- this moment ("active", "suspended", "revoked", "not_yet_valid" or "expired"); no row when the
-- organisation or the active key does not exist. $1 slug (the assertion's iss), $2 kid
SELECT o.id AS org_id, o.slug, o.role, o.trust_tier, k.alg, k.jwk,
       CASE WHEN o.status <> 'active' THEN o.status::text
            WHEN o.valid_from > now() THEN 'not_yet_valid'
            WHEN o.valid_until <= now() THEN 'expired'
            ELSE 'active' END AS standing
  FROM organisations AS o
  JOIN org_keys AS k ON k.org_id = o.id
 WHERE o.slug = $1::text AND k.kid = $2::text AND k.status = 'active';

-- name: purge_used_assertions
-- Forget up to $1 assertion ids whose assertions have expired (they can no longer be replayed).
-- Runs beside every use_assertion, so the table stays about as large as the live assertions.
-- $1 limit
DELETE FROM used_assertions
 WHERE (org_id, jti) IN (SELECT org_id, jti FROM used_assertions
                          WHERE expires_at < now() ORDER BY expires_at LIMIT $1::integer);

-- name: use_assertion
-- Spend the jti $2 of organisation $1 until $3 (RFC 7523 §3 item 7); one row when it was unused,
-- none when it was already spent. $1 org_id, $2 jti, $3 expires_at
INSERT INTO used_assertions (org_id, jti, expires_at)
VALUES ($1::uuid, $2::text, $3::timestamptz)
    ON CONFLICT ON CONSTRAINT used_assertions_pkey DO NOTHING
RETURNING true AS fresh;

-- name: org_for_token
-- The organisation an access token names, with its standing now (see client_key), and the status
-- of its key $2 that obtained the token ("active" or "revoked"; NULL: no such key); no row when
-- the organisation does not exist. Runs on every authenticated request: one primary-key lookup
-- plus one probe of org_keys_org_kid_key. $1 org_id, $2 kid (the token's client_kid)
SELECT o.slug, o.role, o.trust_tier,
       CASE WHEN o.status <> 'active' THEN o.status::text
            WHEN o.valid_from > now() THEN 'not_yet_valid'
            WHEN o.valid_until <= now() THEN 'expired'
            ELSE 'active' END AS standing,
       k.status::text AS key_status
  FROM organisations AS o
  LEFT JOIN org_keys AS k ON k.org_id = o.id AND k.kid = $2::text
 WHERE o.id = $1::uuid;

-- name: active_service_key
-- The service key that signs access tokens now, or no row before the first start.
SELECT kid, private_pem FROM service_keys WHERE retired_at IS NULL;

-- name: insert_service_key
-- Store a new active service key unless another process stored one first (the partial unique
-- index service_keys_one_active); one row when this one was stored.
-- $1 kid, $2 private_pem, $3 public_jwk
INSERT INTO service_keys (kid, private_pem, public_jwk)
VALUES ($1::text, $2::text, $3::jsonb)
    ON CONFLICT DO NOTHING
RETURNING kid;

-- name: lock_service_keys
-- Serialise rotations (held until the transaction ends).
SELECT pg_advisory_xact_lock(hashtext('fraudchannel.service_keys')::bigint);

-- name: retire_service_key
-- Retire the active service key and drop its private half; returns its kid (no row: none active).
UPDATE service_keys
   SET retired_at = now(), private_pem = NULL
 WHERE retired_at IS NULL
RETURNING kid;

-- name: published_service_keys
-- The keys whose tokens may still be alive: the active one and those retired less than $1 ago.
-- $1 interval (access-token lifetime plus clock leeway)
SELECT kid, public_jwk, created_at, retired_at
  FROM service_keys
 WHERE retired_at IS NULL OR retired_at > now() - $1::interval
 ORDER BY created_at DESC;

-- name: list_service_keys
-- Every service key, newest first, and whether the JWKS still publishes it.
-- $1 interval (access-token lifetime plus clock leeway)
SELECT kid, created_at, retired_at,
       (retired_at IS NULL OR retired_at > now() - $1::interval) AS published
  FROM service_keys
 ORDER BY created_at DESC;
