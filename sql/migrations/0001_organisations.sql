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
    'active',     -- may obtain and use tokens (within valid_from .. valid_until)
    'suspended',  -- temporarily barred; tokens stop working at once
    'revoked');   -- permanently barred

CREATE TABLE organisations (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    slug           text NOT NULL,
    legal_name     text NOT NULL,
    role           org_role NOT NULL,
    scheme         org_scheme NOT NULL DEFAULT 'other',
    expertise      text[] NOT NULL DEFAULT '{}',
    trust_tier     smallint NOT NULL DEFAULT 2,
    status         org_status NOT NULL DEFAULT 'active',
    valid_from     timestamptz NOT NULL DEFAULT now(),
    valid_until    timestamptz,
    contact_email  text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT organisations_slug_key UNIQUE (slug),
    CONSTRAINT organisations_slug_check CHECK (slug ~ '^[a-z0-9][a-z0-9-]{1,62}$'),
    CONSTRAINT organisations_trust_tier_check CHECK (trust_tier BETWEEN 1 AND 3),
    CONSTRAINT organisations_validity_check CHECK (valid_until IS NULL OR valid_until > valid_from)
);

CREATE TYPE key_status AS ENUM ('active', 'revoked');

CREATE TABLE org_keys (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id      uuid NOT NULL REFERENCES organisations (id),
    kid         text NOT NULL,
    alg         text NOT NULL,
    jwk         jsonb NOT NULL,          -- public key only (kty, crv/n/e/x/y, kid, alg)
    status      key_status NOT NULL DEFAULT 'active',
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz,
    CONSTRAINT org_keys_org_kid_key UNIQUE (org_id, kid),
    CONSTRAINT org_keys_alg_check CHECK (alg IN ('ES256', 'EdDSA', 'PS256', 'RS256'))
);

-- The service's own signing keys (ES256) for access tokens. The newest active key signs; retired
-- keys stay published in the JWKS until every token they signed has expired.
CREATE TABLE service_keys (
    kid          text PRIMARY KEY,
    private_pem  text NOT NULL,
    public_jwk   jsonb NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    retired_at   timestamptz
);
CREATE UNIQUE INDEX service_keys_one_active ON service_keys ((true)) WHERE retired_at IS NULL;

-- RFC 7523 §3 item 7: a client assertion's jti is single-use until the assertion expires.
CREATE TABLE used_assertions (
    org_id      uuid NOT NULL REFERENCES organisations (id),
    jti         text NOT NULL,
    expires_at  timestamptz NOT NULL,
    CONSTRAINT used_assertions_pkey PRIMARY KEY (org_id, jti)
);
CREATE INDEX used_assertions_expires_at ON used_assertions (expires_at);
