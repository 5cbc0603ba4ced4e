"""R9 drug identity (used by R8 too): what a medication is, from five kinds of evidence, strongest first."""

from __future__ import annotations

from collections.abc import Iterable

from cds_service.clinical.model import Coding, DrugIdentity, Evidence, MedicationConcept
from cds_service.knowledge import ContextKnowledge


def _listed(key: str, context: ContextKnowledge) -> bool:
    return key in context.antineoplastics or key in context.associated_drugs


def _by_codes(codings: Iterable[Coding], context: ContextKnowledge, direct: Evidence,
              found: dict[str, Evidence], cvx: dict[str, Evidence]) -> None:
    """Evidence 1 (a listed code itself) and 3 (a product of the table) for these codings."""
    for coding in codings:
        code = coding.code
        if not code:
            continue
        if coding.system == context.rxnorm:
            if _listed(code, context):
                found.setdefault(code, direct)
            product = context.products.get(code)
            if product is not None:
                for ingredient in product.ingredients:
                    found.setdefault(ingredient, Evidence.PRODUCT)
                if product.cvx is not None:
                    cvx.setdefault(product.cvx, Evidence.PRODUCT)
        elif coding.system == context.cvx:
            cvx.setdefault(code, direct)


def _atc_antineoplastic(codings: Iterable[Coding], context: ContextKnowledge) -> str | None:
    for coding in codings:
        if coding.system == context.atc and (coding.code or "").startswith(context.atc_antineoplastic_prefix):
            return f"ATC {coding.code}"
    return None


def _live_by_name(names: tuple[str, ...], context: ContextKnowledge) -> bool:
    """Evidence 4 for vaccines: a name that says "live" (not "non-replicating"), a live vaccine's brand or
    abbreviation ("MMR"), or a generic name every vaccine of which is live ("yellow fever vaccine") when the name says
    nothing R9 calls not live ("inactivated", "recombinant") -- never a test of immunity named like it ("MMR IgG"), nor
    an order about live vaccines ("Counsel patient: no live vaccines")."""
    words = context.drug_names
    for name in names:
        if words.not_live.found_in(name) or words.tests.found_in(name) or words.about.found_in(name):
            continue
        if (words.live.found_in(name) and "vaccin" in name.lower()) or words.live_names.found_in(name) or (
                words.live_generic.found_in(name) and not words.not_live_kinds.found_in(name)):
            return True
    return False


def _by_names(names: tuple[str, ...], context: ContextKnowledge, found: dict[str, Evidence]) -> None:
    for name in names:
        for found_name in context.drug_names.ingredients.find(name):
            found.setdefault(context.drug_names.ingredient_by_name[found_name], Evidence.NAME)


def _by_route(concept: MedicationConcept, codes: frozenset[str], context: ContextKnowledge) -> bool:
    return any(r.system == context.snomed and r.code in codes for r in concept.routes)


def _non_systemic(concept: MedicationConcept, context: ContextKnowledge) -> bool:
    """R9: a topical, ophthalmic or otic product -- by route (coded, or named by its text or display), or by the
    dose form in its name."""
    return _by_route(concept, context.non_systemic_routes, context) or context.drug_names.non_systemic.found_in(
        *concept.route_names, *concept.names)


def rectal(concept: MedicationConcept, context: ContextKnowledge) -> bool:
    """R9: an order by the rectal route -- its SNOMED CT code; or, the safer reading of "(suppository, enema)", the
    route or the product's dose form named so, unless the product or route says vaginal or urethral."""
    said = (*concept.route_names, *concept.names)
    return _by_route(concept, context.rectal_route, context) or (
        context.drug_names.rectal.found_in(*said) and not context.drug_names.not_rectal.found_in(*said))


def identify(concept: MedicationConcept, context: ContextKnowledge, drug_names: bool = True) -> DrugIdentity:
    """R9 "Drug identity": listed codes, Medication.ingredient, the product table; then names, only when no code
    identified the drug; then a terminology service's ingredients, only when nothing else did. A medication none of
    these identifies is not flagged. `drug_names` False: names identify a live vaccine only, never a drug (a
    ServiceRequest naming a drug is a test of its level: "VANCOMYCIN TROUGH")."""
    found: dict[str, Evidence] = {}
    cvx: dict[str, Evidence] = {}
    _by_codes(concept.codings, context, Evidence.CODE, found, cvx)
    _by_codes(concept.ingredient_codings, context, Evidence.INGREDIENT, found, cvx)
    atc = _atc_antineoplastic((*concept.codings, *concept.ingredient_codings), context)
    live_by: Evidence | None = next((how for code, how in cvx.items() if code in context.live_vaccines), None)
    listed_vaccine = any(code in context.live_vaccines or code in context.not_live_vaccines for code in cvx)
    if not found and atc is None and not listed_vaccine:  # the explicit lists win over names
        if drug_names:
            _by_names(concept.names, context, found)
        if _live_by_name(concept.names, context):
            live_by = Evidence.NAME
    if not found and atc is None and not listed_vaccine and live_by is None:
        _by_codes(concept.related, context, Evidence.TERMINOLOGY, found, cvx)
        _by_names(concept.related_names, context, found)
        found = {key: Evidence.TERMINOLOGY for key in found}
        live_by = Evidence.TERMINOLOGY if any(code in context.live_vaccines for code in cvx) else None
    antineoplastic, antineoplastic_by = None, None
    for key in sorted(found):
        if key in context.antineoplastics:
            antineoplastic, antineoplastic_by = context.antineoplastics[key], found[key]
            break
    if antineoplastic is None and atc is not None:
        antineoplastic, antineoplastic_by = atc, Evidence.CODE
    return DrugIdentity(
        ingredients=tuple(sorted(found.items())),
        antineoplastic=antineoplastic,
        antineoplastic_by=antineoplastic_by,
        live_vaccine_by=live_by,
        non_systemic=_non_systemic(concept, context) if found else False,
    )


def needs_terminology(concept: MedicationConcept, context: ContextKnowledge) -> bool:
    """True when none of the evidence a record itself carries (1-4) identifies the drug: only then is a terminology
    service asked, and only about RxNorm codes."""
    return not identify(concept, context).recognised and any(
        c.system == context.rxnorm and c.code for c in concept.codings)
