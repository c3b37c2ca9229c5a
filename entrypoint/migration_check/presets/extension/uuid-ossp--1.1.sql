-- migration-check's stand-in for uuid-ossp 1.1: see uuid-ossp.control.

\echo Use "CREATE EXTENSION ""uuid-ossp""" to load this file. \quit

CREATE FUNCTION uuid_nil() RETURNS uuid IMMUTABLE STRICT PARALLEL SAFE LANGUAGE sql
AS $$ SELECT '00000000-0000-0000-0000-000000000000'::uuid $$;

CREATE FUNCTION uuid_ns_dns() RETURNS uuid IMMUTABLE STRICT PARALLEL SAFE LANGUAGE sql
AS $$ SELECT '6ba7b810-9dad-11d1-80b4-00c04fd430c8'::uuid $$;

CREATE FUNCTION uuid_ns_url() RETURNS uuid IMMUTABLE STRICT PARALLEL SAFE LANGUAGE sql
AS $$ SELECT '6ba7b811-9dad-11d1-80b4-00c04fd430c8'::uuid $$;

CREATE FUNCTION uuid_ns_oid() RETURNS uuid IMMUTABLE STRICT PARALLEL SAFE LANGUAGE sql
AS $$ SELECT '6ba7b812-9dad-11d1-80b4-00c04fd430c8'::uuid $$;

CREATE FUNCTION uuid_ns_x500() RETURNS uuid IMMUTABLE STRICT PARALLEL SAFE LANGUAGE sql
AS $$ SELECT '6ba7b814-9dad-11d1-80b4-00c04fd430c8'::uuid $$;

-- A hash (MD5 or SHA-1) of namespace and name, with the version and variant bits set (RFC 4122, 4.3).
CREATE FUNCTION _uuid_ossp_name_based(digest bytea, version integer) RETURNS uuid IMMUTABLE STRICT PARALLEL SAFE
LANGUAGE sql AS $$
    SELECT encode(set_byte(set_byte(substring(digest FROM 1 FOR 16), 6,
                                    (get_byte(digest, 6) & 15) | (version << 4)),
                           8, (get_byte(digest, 8) & 63) | 128), 'hex')::uuid
$$;

-- include: sha1.sql

-- Version 1 from the clock (100 ns ticks since 1582-10-15) and a random node with the multicast bit set, as
-- uuid_generate_v1mc() makes them; the real v1 would use the host's MAC address, which says nothing here.
CREATE FUNCTION uuid_generate_v1mc() RETURNS uuid VOLATILE STRICT PARALLEL SAFE LANGUAGE sql AS $$
    WITH tick AS (
        SELECT (extract(epoch FROM clock_timestamp()) * 10000000)::bigint + 122192928000000000 AS t
    )
    SELECT (lpad(to_hex(t & 4294967295), 8, '0') || '-' || lpad(to_hex((t >> 32) & 65535), 4, '0') || '-'
            || lpad(to_hex(((t >> 48) & 4095) | 4096), 4, '0') || '-'
            || lpad(to_hex((random(0, 16383) | 32768)), 4, '0') || '-'
            || lpad(to_hex(random(0, 281474976710655::bigint) | 1099511627776), 12, '0'))::uuid
    FROM tick
$$;

CREATE FUNCTION uuid_generate_v1() RETURNS uuid VOLATILE STRICT PARALLEL SAFE LANGUAGE sql
BEGIN ATOMIC SELECT uuid_generate_v1mc(); END;

CREATE FUNCTION uuid_generate_v3(namespace uuid, name text) RETURNS uuid IMMUTABLE STRICT PARALLEL SAFE
LANGUAGE sql BEGIN ATOMIC
    SELECT _uuid_ossp_name_based(decode(md5(uuid_send(namespace) || convert_to(name, 'UTF8')), 'hex'), 3);
END;

CREATE FUNCTION uuid_generate_v4() RETURNS uuid VOLATILE STRICT PARALLEL SAFE LANGUAGE sql
AS $$ SELECT pg_catalog.gen_random_uuid() $$;

CREATE FUNCTION uuid_generate_v5(namespace uuid, name text) RETURNS uuid IMMUTABLE STRICT PARALLEL SAFE
LANGUAGE sql BEGIN ATOMIC
    SELECT _uuid_ossp_name_based(_uuid_ossp_sha1(uuid_send(namespace) || convert_to(name, 'UTF8')), 5);
END;
