"""Getting FHIR data: prefetch templates and their resolution, and the FHIR-to-domain boundary."""
