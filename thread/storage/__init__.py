"""Infrastructure: event stores on SQLite and PostgreSQL, the mapper, encryption at rest."""
