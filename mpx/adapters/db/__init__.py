"""PostgreSQL: connections, the local cluster, migrations and the queries the jobs need."""
