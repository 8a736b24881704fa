"""A simulated drive-unit plant for the read-side benchmarks (see ``benchmarks/dataset.py``).

``catalogue`` holds the product tree, designs, machines, material and
customers; ``health`` the machines' episodes and condition blocks;
``production`` makes one drive unit from its detail parts up; ``field``
follows units to customers; ``plant`` runs it all chunk by chunk into a
``journal`` of facts with their record ids.
"""
