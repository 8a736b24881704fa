"""Who may record, sign and read what: a declarative role policy, decided by Cedar."""
