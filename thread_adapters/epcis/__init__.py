"""GS1 EPCIS 2.0 in and out."""
