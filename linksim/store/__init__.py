"""The database: schema, connection, loading with quarantine, export and import."""
