"""Local development and test stack: a real Kafka broker and PostgreSQL run as local processes."""
