"""The rules DSL, the engine and one module per rule kind."""
