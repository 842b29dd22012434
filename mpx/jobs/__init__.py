"""One module per job. A job function takes settings, a connection and its collaborators, does one
pass and returns a result; :func:`mpx.jobs.contract.run_job` wraps it in the job contract."""
