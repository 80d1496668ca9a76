-- Runs are judged by one verdict rule (lib/stages.ts): succeeded, partial, failed or skipped.
ALTER TABLE job_runs DROP CONSTRAINT IF EXISTS job_runs_status_check;
ALTER TABLE job_runs ADD CONSTRAINT job_runs_status_check CHECK (status IN ('running', 'succeeded', 'partial', 'failed', 'skipped'));
