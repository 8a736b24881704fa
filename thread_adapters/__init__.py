"""Protocol and system adapters that turn PLC tags and business-system exports into facts.

Each adapter's dependencies are an optional extra of the distribution
(``opcua``, ``sparkplug``); the core ``thread`` package never imports this one.
"""
