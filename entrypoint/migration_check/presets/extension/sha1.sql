-- Shared by the stand-in extensions' scripts: migration-check writes it into each where it says so, with
-- @prefix@ made the extension's own (_uuid_ossp, _pgcrypto), since both may live in one schema.

-- SHA-1 (FIPS 180-4) over bytes: PostgreSQL's core has MD5 and SHA-2, but not SHA-1.
CREATE FUNCTION @prefix@_sha1(message bytea) RETURNS bytea IMMUTABLE STRICT PARALLEL SAFE LANGUAGE plpgsql AS $$
DECLARE
    mask CONSTANT bigint := 4294967295;
    h bigint[] := ARRAY[1732584193, 4023233417, 2562383102, 271733878, 3285377520];
    padded bytea;
    w bigint[];
    a bigint; b bigint; c bigint; d bigint; e bigint; f bigint; k bigint; t bigint;
    base integer;
BEGIN
    padded := message || '\x80'::bytea
              || decode(repeat('00', (119 - length(message) % 64) % 64), 'hex')
              || int8send(length(message)::bigint * 8);
    FOR chunk IN 0 .. length(padded) / 64 - 1 LOOP
        base := chunk * 64;
        w := array_fill(0::bigint, ARRAY[80]);
        FOR i IN 0 .. 15 LOOP
            w[i + 1] := (get_byte(padded, base + 4 * i)::bigint << 24) | (get_byte(padded, base + 4 * i + 1) << 16)
                        | (get_byte(padded, base + 4 * i + 2) << 8) | get_byte(padded, base + 4 * i + 3);
        END LOOP;
        FOR i IN 16 .. 79 LOOP
            t := w[i - 2] # w[i - 7] # w[i - 13] # w[i - 15];
            w[i + 1] := ((t << 1) | (t >> 31)) & mask;
        END LOOP;
        a := h[1]; b := h[2]; c := h[3]; d := h[4]; e := h[5];
        FOR i IN 0 .. 79 LOOP
            IF i < 20 THEN
                f := (b & c) | ((b # mask) & d); k := 1518500249;
            ELSIF i < 40 THEN
                f := b # c # d; k := 1859775393;
            ELSIF i < 60 THEN
                f := (b & c) | (b & d) | (c & d); k := 2400959708;
            ELSE
                f := b # c # d; k := 3395469782;
            END IF;
            t := ((((a << 5) | (a >> 27)) & mask) + f + e + k + w[i + 1]) & mask;
            e := d; d := c; c := ((b << 30) | (b >> 2)) & mask; b := a; a := t;
        END LOOP;
        h[1] := (h[1] + a) & mask; h[2] := (h[2] + b) & mask; h[3] := (h[3] + c) & mask;
        h[4] := (h[4] + d) & mask; h[5] := (h[5] + e) & mask;
    END LOOP;
    RETURN substring(int8send(h[1]) FROM 5) || substring(int8send(h[2]) FROM 5) || substring(int8send(h[3]) FROM 5)
           || substring(int8send(h[4]) FROM 5) || substring(int8send(h[5]) FROM 5);
END $$;
