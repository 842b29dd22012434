-- A run whose process died before it could record how it ended (kill -9, the OOM killer, a
-- systemd timeout, a lost database session) used to stay 'running' forever. Each run now holds a
-- session advisory lock of its own while it runs; the next run of the same job marks every older
-- 'running' row whose lock nobody holds as 'killed'.
ALTER TABLE job_run DROP CONSTRAINT job_run_status_check;
ALTER TABLE job_run ADD CONSTRAINT job_run_status_check CHECK (status IN (
    'running', 'ok', 'failed', 'skipped', 'killed'));
CREATE INDEX job_run_running ON job_run (job) WHERE status = 'running';
