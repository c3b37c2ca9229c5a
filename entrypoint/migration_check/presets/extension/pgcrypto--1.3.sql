-- migration-check's stand-in for pgcrypto 1.3: see pgcrypto.control.

\echo Use "CREATE EXTENSION pgcrypto" to load this file. \quit

-- include: sha1.sql

-- Volatile, so that the planner never folds it into a digest() call whose algorithm is known.
CREATE FUNCTION _pgcrypto_unknown_algorithm(type text) RETURNS bytea VOLATILE STRICT PARALLEL SAFE
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'Cannot use "%": No such hash algorithm', type;
END $$;

CREATE FUNCTION digest(data bytea, type text) RETURNS bytea IMMUTABLE STRICT PARALLEL SAFE LANGUAGE sql
BEGIN ATOMIC
    SELECT CASE lower(type)
               WHEN 'md5' THEN decode(md5(data), 'hex')
               WHEN 'sha1' THEN _pgcrypto_sha1(data)
               WHEN 'sha224' THEN sha224(data)
               WHEN 'sha256' THEN sha256(data)
               WHEN 'sha384' THEN sha384(data)
               WHEN 'sha512' THEN sha512(data)
               ELSE _pgcrypto_unknown_algorithm(type) END;
END;

CREATE FUNCTION digest(data text, type text) RETURNS bytea IMMUTABLE STRICT PARALLEL SAFE LANGUAGE sql
BEGIN ATOMIC
    SELECT digest(convert_to(data, 'UTF8'), type);
END;

-- HMAC (RFC 2104): the key, hashed first when longer than the hash's block (64 bytes, or 128 for SHA-384 and
-- SHA-512), padded with zeros to the block and XORed with the inner (0x36) or outer (0x5c) pad.
CREATE FUNCTION _pgcrypto_block_size(type text) RETURNS integer IMMUTABLE STRICT PARALLEL SAFE
LANGUAGE sql
BEGIN ATOMIC
    SELECT CASE WHEN lower(type) IN ('sha384', 'sha512') THEN 128 ELSE 64 END;
END;

CREATE FUNCTION _pgcrypto_padded_key(key bytea, block integer, pad integer) RETURNS bytea IMMUTABLE STRICT PARALLEL SAFE
LANGUAGE sql BEGIN ATOMIC
    SELECT decode(string_agg(lpad(to_hex(get_byte(padded.key, i) # pad), 2, '0'), '' ORDER BY i), 'hex')
    FROM (SELECT key || decode(repeat('00', block - length(key)), 'hex') AS key) AS padded,
         generate_series(0, block - 1) AS i;
END;

CREATE FUNCTION hmac(data bytea, key bytea, type text) RETURNS bytea IMMUTABLE STRICT PARALLEL SAFE LANGUAGE sql
BEGIN ATOMIC
    SELECT digest(_pgcrypto_padded_key(k.key, k.block, 92)
                  || digest(_pgcrypto_padded_key(k.key, k.block, 54) || data, type), type)
    FROM (SELECT CASE WHEN length(key) > _pgcrypto_block_size(type) THEN digest(key, type) ELSE key END AS key,
                 _pgcrypto_block_size(type) AS block) AS k;
END;

CREATE FUNCTION hmac(data text, key text, type text) RETURNS bytea IMMUTABLE STRICT PARALLEL SAFE LANGUAGE sql
BEGIN ATOMIC
    SELECT hmac(convert_to(data, 'UTF8'), convert_to(key, 'UTF8'), type);
END;

-- Strong random bytes from gen_random_uuid(): of each UUID's 16 bytes, the 14 that hold no version or variant bits.
CREATE FUNCTION gen_random_bytes(count integer) RETURNS bytea VOLATILE STRICT PARALLEL SAFE LANGUAGE plpgsql AS $$
DECLARE
    result bytea := '\x';
    id bytea;
BEGIN
    IF count < 1 OR count > 1024 THEN
        RAISE EXCEPTION 'Length not in range';
    END IF;
    WHILE length(result) < count LOOP
        id := uuid_send(gen_random_uuid());
        result := result || substring(id FROM 1 FOR 6) || substring(id FROM 8 FOR 1) || substring(id FROM 10 FOR 7);
    END LOOP;
    RETURN substring(result FROM 1 FOR count);
END $$;

CREATE FUNCTION gen_random_uuid() RETURNS uuid VOLATILE PARALLEL SAFE LANGUAGE sql
BEGIN ATOMIC
    SELECT pg_catalog.gen_random_uuid();
END;
