"""Pure domain code: models, money/book math, rules. Imports no typer, httpx or psycopg."""
