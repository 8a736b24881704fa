"""The read side: projections of the log into SQL tables, and the queries built on them."""
