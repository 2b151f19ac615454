"""CSV and Excel import of users: read, stage, dry run, commit as a resumable job, report."""
