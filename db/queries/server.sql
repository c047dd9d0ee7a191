-- server_facts --
-- The server's version and the extensions it can install.
SELECT current_setting('server_version_num')::int,
       current_setting('server_version'),
       coalesce(array_agg(name::text), '{}')
FROM pg_available_extensions
