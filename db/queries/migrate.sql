-- migration_lock --
-- Wait for, then hold until commit, the lock that serializes migrations.
SELECT pg_advisory_xact_lock(%(key)s)

-- sql_file_checksums --
-- The checksum of every SQL file applied so far.
SELECT path, checksum FROM public.qdx_sql_files

-- record_sql_file --
-- Remember that a SQL file was applied with this content.
INSERT INTO public.qdx_sql_files (path, checksum) VALUES (%(path)s, %(checksum)s)
ON CONFLICT (path) DO UPDATE SET checksum = excluded.checksum, applied_at = now()

-- alembic_version_exists --
-- Whether Alembic has ever run here.
SELECT to_regclass('public.alembic_version') IS NOT NULL

-- alembic_version --
-- The schema revision Alembic recorded.
SELECT version_num FROM public.alembic_version
