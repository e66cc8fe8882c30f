-- 0001_organisations.sql: the organisation registry, their keys, the service's signing keys and
-- the single-use client-assertion ids (DESIGN: Authentication and authorisation).

CREATE TYPE org_role AS ENUM (
    'reporter',   -- trusted flagger: bank, police unit, regulator, fraud body
    'platform',   -- the platform's fraud team: reads and decides tickets
    'admin');     -- operator: registry and statistics

CREATE TYPE org_scheme AS ENUM (
    'ofcom_icu_d14',  -- UK Online Safety Act, Illegal Content Codes measure ICU D14
    'dsa_art22',      -- EU Digital Services Act Art 22 trusted flagger
    'bilateral',      -- agreement between the platform and the organisation
    'other');

CREATE TYPE org_status AS ENUM (
    'active',     -- may obtain and use tokens (within valid_from .. valid_until); -> suspended, revoked
    'suspended',  -- temporarily barred, tokens stop working at once; -> active, revoked
    'revoked');   -- permanently barred; final

CREATE TABLE organisations (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    slug           text NOT NULL,           -- the OAuth client id (iss = sub of its assertions)
    legal_name     text NOT NULL,
    role           org_role NOT NULL,
    scheme         org_scheme NOT NULL DEFAULT 'other',
    expertise      text[] NOT NULL DEFAULT '{}',
    trust_tier     smallint NOT NULL DEFAULT 2,  -- 1 (highest) .. 3
    status         org_status NOT NULL DEFAULT 'active',
    status_reason  text,                     -- the operator's words at the last status change
    valid_from     timestamptz NOT NULL DEFAULT now(),
    valid_until    timestamptz,              -- NULL: no end date
    contact_email  text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT organisations_slug_key UNIQUE (slug),
    CONSTRAINT organisations_slug_check CHECK (slug ~ '^[a-z0-9][a-z0-9-]{1,62}$'),
    CONSTRAINT organisations_trust_tier_check CHECK (trust_tier BETWEEN 1 AND 3),
    CONSTRAINT organisations_validity_check CHECK (valid_until IS NULL OR valid_until > valid_from)
);

CREATE TYPE key_status AS ENUM (
    'active',    -- may sign client assertions; -> revoked
    'revoked');  -- final

CREATE TABLE org_keys (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id      uuid NOT NULL REFERENCES organisations (id),
    kid         text NOT NULL,
    alg         text NOT NULL,
    jwk         jsonb NOT NULL,          -- public key only (kty, crv/n/e/x/y, kid, alg, use)
    thumbprint  text NOT NULL,           -- RFC 7638 JWK SHA-256 thumbprint, base64url
    status      key_status NOT NULL DEFAULT 'active',
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz,
    CONSTRAINT org_keys_org_kid_key UNIQUE (org_id, kid),
    CONSTRAINT org_keys_org_thumbprint_key UNIQUE (org_id, thumbprint),
    CONSTRAINT org_keys_kid_check CHECK (length(kid) BETWEEN 1 AND 128),
    CONSTRAINT org_keys_alg_check CHECK (alg IN ('ES256', 'EdDSA', 'PS256', 'RS256')),
    CONSTRAINT org_keys_revoked_check CHECK ((status = 'revoked') = (revoked_at IS NOT NULL))
);

-- The service's own signing keys (ES256) for access tokens. The one key with retired_at NULL
-- signs; retired keys stay published in the JWKS until every token they signed has expired, and
-- lose their private half when they retire (a retired key never signs again).
CREATE TABLE service_keys (
    kid          text PRIMARY KEY,       -- RFC 7638 thumbprint of public_jwk
    private_pem  text,                   -- PKCS #8 PEM; NULL once retired
    public_jwk   jsonb NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    retired_at   timestamptz,
    CONSTRAINT service_keys_private_check CHECK (retired_at IS NOT NULL OR private_pem IS NOT NULL)
);
-- At most one active key: processes starting together race on this index (INSERT ... ON CONFLICT).
CREATE UNIQUE INDEX service_keys_one_active ON service_keys ((true)) WHERE retired_at IS NULL;

-- RFC 7523 §3 item 7: a client assertion's jti is single-use until the assertion expires
-- (expires_at = its exp plus the clock leeway; expired rows are purged as new ones arrive).
CREATE TABLE used_assertions (
    org_id      uuid NOT NULL REFERENCES organisations (id),
    jti         text NOT NULL,
    expires_at  timestamptz NOT NULL,
    CONSTRAINT used_assertions_pkey PRIMARY KEY (org_id, jti)
);
CREATE INDEX used_assertions_expires_at ON used_assertions (expires_at);
