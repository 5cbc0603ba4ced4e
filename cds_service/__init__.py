"""neutropenia-cds: an HL7 CDS Hooks 2.0 service that watches for neutropenia."""

__version__ = "0.1.0"
