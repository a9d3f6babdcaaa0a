"""Learning from proof of delivery (issue 17): where drivers really left parcels, and where they failed.

Routing reports each attempt (``reports``: order, position, time, outcome, reason). Reports
are joined to the cleaned orders they were about (``join``: the order's delivery point, its
address and unit, and the geocode we gave) and kept in the decisions store (``store``), so
they share its retention and erasure (``confirmations.privacy``). From them a cleaning
process learns (``learned``): a delivery point with at least three successful drops near
each other is placed at their robust centre (precision ``delivery_point``), and repeated
failures raise ``failed_before``. ``ingest`` is the whole import, for the CLI and the flow.
"""
