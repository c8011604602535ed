"""The results section of an API v2 record → the trial's result nodes (groups, flow, baseline, outcome
measures with analyses, adverse events, more information)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

from pyoxigraph import Literal, NamedNode

from kg.ctgov.emitter import Emitter
from kg.ctgov.record import RecordError, RecordNode
from kg.vocab import KG, RDF, RDFS, SCHEMA, SKOS, XSD

__all__ = ["map_results"]

#: A group id becomes part of IRIs (``…/group/FG000``, ``…/category/1/OG001``): only id-like text gets there
#: (no "/", and no "." or ".." that IRI resolution would swallow).
_GROUP_ID: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,31}\Z")
#: xsd:decimal's lexical form: "43.0", "-1.25" and ".5" are numbers analyses can use; "<0.001", "NA", "1e-3" not.
_DECIMAL: Final = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)\Z")

#: (API field, property) of the text kept verbatim on each kind of node.
_TextFields = tuple[tuple[str, NamedNode], ...]
_FLOW_TEXTS: Final[_TextFields] = (
    ("recruitmentDetails", KG.recruitmentDetails),
    ("preAssignmentDetails", KG.preAssignmentDetails),
    ("typeUnitsAnalyzed", KG.typeUnitsAnalyzed),
)
_BASELINE_TEXTS: Final[_TextFields] = (
    ("populationDescription", KG.populationDescription),
    ("typeUnitsAnalyzed", KG.typeUnitsAnalyzed),
)
#: What baseline measures and outcome measures both say about themselves.
_MEASURE_TEXTS: Final[_TextFields] = (
    ("title", RDFS.label),
    ("description", SCHEMA.description),
    ("populationDescription", KG.populationDescription),
    ("dispersionType", KG.dispersionType),
    ("unitOfMeasure", KG.unitOfMeasure),
    ("denomUnitsSelected", KG.denomUnitsSelected),
)
_OUTCOME_TEXTS: Final[_TextFields] = (("timeFrame", KG.timeFrame), ("typeUnitsAnalyzed", KG.typeUnitsAnalyzed))
_MEASUREMENT_TEXTS: Final[_TextFields] = (
    ("value", RDF.value),
    ("spread", KG.spread),
    ("lowerLimit", KG.lowerLimit),
    ("upperLimit", KG.upperLimit),
    ("comment", RDFS.comment),
)
_ANALYSIS_TEXTS: Final[_TextFields] = (
    ("groupDescription", KG.groupDescription),
    ("nonInferiorityComment", KG.nonInferiorityComment),
    ("pValue", KG.pValue),
    ("pValueComment", KG.pValueComment),
    ("statisticalMethod", KG.statisticalMethod),
    ("statisticalComment", KG.statisticalComment),
    # free text ("Treatment Difference"): kg:paramType is the measureParam enumeration elsewhere
    ("paramType", KG.estimateType),
    ("paramValue", KG.estimate),
    ("dispersionType", KG.dispersionType),
    ("dispersionValue", KG.dispersionValue),
    ("ciPctValue", KG.ciPercent),
    ("ciLowerLimit", KG.ciLowerLimit),
    ("ciUpperLimit", KG.ciUpperLimit),
    ("ciLowerLimitComment", KG.ciLowerLimitComment),
    ("ciUpperLimitComment", KG.ciUpperLimitComment),
    ("estimateComment", KG.estimateComment),
    ("otherAnalysisDescription", KG.otherAnalysisDescription),
)
_ADVERSE_EVENTS_TEXTS: Final[_TextFields] = (
    ("frequencyThreshold", KG.frequencyThreshold),
    ("timeFrame", KG.timeFrame),
    ("description", SCHEMA.description),
    ("allCauseMortalityComment", KG.allCauseMortalityComment),
)
_EVENT_TEXTS: Final[_TextFields] = (
    ("term", RDFS.label),
    ("organSystem", KG.organSystem),
    ("sourceVocabulary", KG.sourceVocabulary),
    ("notes", RDFS.comment),
)
#: The point of contact's details that ``kg build --no-contacts`` leaves out.
_CONTACT_TEXTS: Final[_TextFields] = (
    ("email", SCHEMA.email),
    ("phone", SCHEMA.telephone),
    ("phoneExt", KG.phoneExtension),
)
#: Integer fields (JSON numbers) and their property, same name.
_EVENT_GROUP_COUNTS: Final = tuple(
    (name, KG[name])
    for name in (
        "deathsNumAffected",
        "deathsNumAtRisk",
        "seriousNumAffected",
        "seriousNumAtRisk",
        "otherNumAffected",
        "otherNumAtRisk",
    )
)
_EVENT_COUNTS: Final = tuple((name, KG[name]) for name in ("numAffected", "numAtRisk", "numEvents"))


def map_results(emit: Emitter, section: RecordNode) -> None:
    """Everything ``resultsSection`` holds, as parts of ``emit``'s trial (nothing for an empty section)."""
    _participant_flow(emit, section.obj("participantFlowModule"))
    _baseline(emit, section.obj("baselineCharacteristicsModule"))
    _outcome_measures(emit, section.obj("outcomeMeasuresModule"))
    _adverse_events(emit, section.obj("adverseEventsModule"))
    _more_info(emit, section.obj("moreInfoModule"))


class _Groups:
    """The result groups of one module (or one outcome measure), keyed by the record's own ids (FG000, OG000…):
    every per-group value in that module points to its group's node."""

    def __init__(self, emit: Emitter, owner: NamedNode, prefix: str) -> None:
        self.emit = emit
        self.owner = owner
        self.prefix = prefix
        self.nodes: dict[str, NamedNode] = {}

    def declare(self, item: RecordNode) -> NamedNode:
        """A group as the module lists it (``groups[]``, ``eventGroups[]``): id, title and description."""
        node = self._node(item.text("id"), f"{item.path}.id")
        self.emit.text(node, RDFS.label, item.text("title"))
        self.emit.text(node, SCHEMA.description, item.text("description"))
        return node

    def declare_all(self, items: Iterable[RecordNode]) -> None:
        for item in items:
            self.declare(item)

    def of(self, group_id: str | None, path: str) -> NamedNode:
        """The group a per-group value names; one the module does not list is kept (by id alone) and warned of."""
        known = self.nodes.get(group_id or "")
        if known is not None:
            return known
        node = self._node(group_id, path)
        self.emit.out.warnings.append(f"{path}: group {group_id!r:.40} is not among the module's groups")
        return node

    def _node(self, group_id: str | None, path: str) -> NamedNode:
        if group_id is None or not _GROUP_ID.match(group_id):
            raise RecordError(f"{path}: {group_id!r:.40} is not a group id (such as FG000)")
        node = self.nodes.get(group_id)
        if node is None:
            node = self.emit.part(self.owner, KG.group, f"{self.prefix}/group/{group_id}", KG.ResultGroup)
            self.emit.add(node, SKOS.notation, Literal(group_id))
            self.nodes[group_id] = node
        return node


def _per_group(
    emit: Emitter,
    owner: NamedNode,
    predicate: NamedNode,
    prefix: str,
    item: RecordNode,
    rdf_type: NamedNode,
    groups: _Groups,
) -> NamedNode:
    """One group's entry in a list of per-group values: node ``{prefix}/{groupId}`` pointing to its group."""
    group_id = item.text("groupId")
    group = groups.of(group_id, f"{item.path}.groupId")
    node = emit.part(owner, predicate, f"{prefix}/{group_id}", rdf_type)
    emit.add(node, KG.group, group)
    return node


# --- participant flow ---------------------------------------------------------------------------------


def _participant_flow(emit: Emitter, module: RecordNode) -> None:
    if not module.data:
        return
    prefix = "results/flow"
    flow = emit.part(emit.trial, KG.participantFlow, prefix, KG.ParticipantFlow)
    emit.texts_at(flow, module, _FLOW_TEXTS)
    groups = _Groups(emit, flow, prefix)
    groups.declare_all(module.objs("groups"))
    for position, period in enumerate(module.objs("periods"), start=1):
        _flow_period(emit, flow, f"{prefix}/period/{position}", position, period, groups)


def _flow_period(
    emit: Emitter, flow: NamedNode, prefix: str, position: int, period: RecordNode, groups: _Groups
) -> None:
    node = emit.part(flow, KG.period, prefix, KG.FlowPeriod, position)
    emit.text(node, RDFS.label, period.text("title"))
    for index, milestone in enumerate(period.objs("milestones"), start=1):
        step = emit.part(node, KG.milestone, f"{prefix}/milestone/{index}", KG.FlowMilestone, index)
        emit.text(step, KG.milestoneType, milestone.text("type"))
        emit.text(step, RDFS.comment, milestone.text("comment"))
        _subject_counts(emit, step, f"{prefix}/milestone/{index}", milestone.objs("achievements"), groups)
    for index, withdrawal in enumerate(period.objs("dropWithdraws"), start=1):
        drop = emit.part(node, KG.withdrawal, f"{prefix}/withdrawal/{index}", KG.FlowWithdrawal, index)
        emit.text(drop, KG.reason, withdrawal.text("type"))
        emit.text(drop, RDFS.comment, withdrawal.text("comment"))
        _subject_counts(emit, drop, f"{prefix}/withdrawal/{index}", withdrawal.objs("reasons"), groups)


def _subject_counts(emit: Emitter, owner: NamedNode, prefix: str, items: Iterable[RecordNode], groups: _Groups) -> None:
    """Participants (and units) per group of a milestone's achievements or a withdrawal's reasons."""
    for item in items:
        node = _per_group(emit, owner, KG.count, prefix, item, KG.GroupCount, groups)
        emit.count(node, KG.numSubjects, item.text("numSubjects"), f"{item.path}.numSubjects")
        emit.count(node, KG.numUnits, item.text("numUnits"), f"{item.path}.numUnits")
        emit.text(node, RDFS.comment, item.text("comment"))


# --- measures: the structure baseline measures and outcome measures share -------------------------------


def _measure(emit: Emitter, node: NamedNode, prefix: str, item: RecordNode, groups: _Groups) -> None:
    """What a baseline or an outcome measure says about itself, then its values."""
    emit.texts_at(node, item, _MEASURE_TEXTS)
    emit.enum_at(node, KG.paramType, "measureParam", item, "paramType")
    emit.flag(node, KG.calculatePct, item.flag("calculatePct"))
    _measure_values(emit, node, prefix, item, groups)


def _measure_values(emit: Emitter, measure: NamedNode, prefix: str, item: RecordNode, groups: _Groups) -> None:
    """Denominators, then classes with their own denominators and categories of per-group measurements."""
    _denoms(emit, measure, prefix, item, groups)
    for position, measure_class in enumerate(item.objs("classes"), start=1):
        class_prefix = f"{prefix}/class/{position}"
        node = emit.part(measure, KG.measureClass, class_prefix, KG.MeasureClass, position)
        emit.text(node, RDFS.label, measure_class.text("title"))
        _denoms(emit, node, class_prefix, measure_class, groups)
        for index, category in enumerate(measure_class.objs("categories"), start=1):
            _category(emit, node, f"{class_prefix}/category/{index}", index, category, groups)


def _denoms(emit: Emitter, owner: NamedNode, prefix: str, item: RecordNode, groups: _Groups) -> None:
    """``denoms[]``: the number analysed per group, in the units the record names (participants, eyes…)."""
    for position, denom in enumerate(item.objs("denoms"), start=1):
        denom_prefix = f"{prefix}/denom/{position}"
        node = emit.part(owner, KG.denominator, denom_prefix, KG.Denominator, position)
        emit.text(node, KG.units, denom.text("units"))
        for count in denom.objs("counts"):
            cell = _per_group(emit, node, KG.count, denom_prefix, count, KG.GroupCount, groups)
            emit.count(cell, KG.value, count.text("value"), f"{count.path}.value")


def _category(
    emit: Emitter, measure_class: NamedNode, prefix: str, position: int, category: RecordNode, groups: _Groups
) -> None:
    node = emit.part(measure_class, KG.category, prefix, KG.MeasureCategory, position)
    emit.text(node, RDFS.label, category.text("title"))
    for item in category.objs("measurements"):
        cell = _per_group(emit, node, KG.measurement, prefix, item, KG.Measurement, groups)
        emit.texts_at(cell, item, _MEASUREMENT_TEXTS)
        value = item.text("value")
        if value is not None and _DECIMAL.match(value.strip()):
            emit.add(cell, KG.numericValue, Literal(value.strip(), datatype=XSD.decimal))


# --- baseline and outcome measures ----------------------------------------------------------------------


def _baseline(emit: Emitter, module: RecordNode) -> None:
    if not module.data:
        return
    prefix = "results/baseline"
    baseline = emit.part(emit.trial, KG.baseline, prefix, KG.Baseline)
    emit.texts_at(baseline, module, _BASELINE_TEXTS)
    groups = _Groups(emit, baseline, prefix)
    groups.declare_all(module.objs("groups"))
    _denoms(emit, baseline, prefix, module, groups)
    for position, item in enumerate(module.objs("measures"), start=1):
        measure_prefix = f"{prefix}/measure/{position}"
        node = emit.part(baseline, KG.baselineMeasure, measure_prefix, KG.BaselineMeasure, position)
        _measure(emit, node, measure_prefix, item, groups)


def _outcome_measures(emit: Emitter, module: RecordNode) -> None:
    for position, item in enumerate(module.objs("outcomeMeasures"), start=1):
        _outcome(emit, position, item)


def _outcome(emit: Emitter, position: int, item: RecordNode) -> None:
    prefix = f"results/outcome/{position}"
    node = emit.part(emit.trial, KG.outcomeResult, prefix, KG.OutcomeResult, position)
    emit.enum_at(node, KG.outcomeType, "outcomeMeasureType", item, "type")
    emit.enum_at(node, KG.reportingStatus, "reportingStatus", item, "reportingStatus")
    emit.date(
        "anticipatedPostingDate",
        item.text("anticipatedPostingDate"),
        f"{item.path}.anticipatedPostingDate",
        subject=node,
    )
    emit.texts_at(node, item, _OUTCOME_TEXTS)
    groups = _Groups(emit, node, prefix)
    groups.declare_all(item.objs("groups"))
    _measure(emit, node, prefix, item, groups)
    for index, analysis in enumerate(item.objs("analyses"), start=1):
        _analysis(emit, node, f"{prefix}/analysis/{index}", index, analysis, groups)


def _analysis(emit: Emitter, outcome: NamedNode, prefix: str, position: int, item: RecordNode, groups: _Groups) -> None:
    node = emit.part(outcome, KG.analysis, prefix, KG.Analysis, position)
    for index, group_id in enumerate(item.texts("groupIds")):
        emit.add(node, KG.analysisGroup, groups.of(group_id, f"{item.path}.groupIds[{index}]"))
    emit.enum_at(node, KG.nonInferiorityType, "nonInferiorityType", item, "nonInferiorityType")
    emit.flag(node, KG.testedNonInferiority, item.flag("testedNonInferiority"))
    emit.enum_at(node, KG.ciSides, "ciNumSides", item, "ciNumSides")
    emit.texts_at(node, item, _ANALYSIS_TEXTS)


# --- adverse events and more information ---------------------------------------------------------------


def _adverse_events(emit: Emitter, module: RecordNode) -> None:
    if not module.data:
        return
    prefix = "results/adverse-events"
    report = emit.part(emit.trial, KG.adverseEvents, prefix, KG.AdverseEventReport)
    emit.texts_at(report, module, _ADVERSE_EVENTS_TEXTS)
    groups = _Groups(emit, report, prefix)
    for item in module.objs("eventGroups"):
        node = groups.declare(item)
        for api_field, predicate in _EVENT_GROUP_COUNTS:
            emit.integer(node, predicate, item.integer(api_field))
    for kind in ("serious", "other"):
        for position, event in enumerate(module.objs(f"{kind}Events"), start=1):
            _adverse_event(emit, report, kind, position, event, groups)


def _adverse_event(
    emit: Emitter, report: NamedNode, kind: str, position: int, item: RecordNode, groups: _Groups
) -> None:
    """One row of the serious or other adverse events table, with its counts per group."""
    prefix = f"results/adverse-events/{kind}/{position}"
    node = emit.part(report, KG[f"{kind}Event"], prefix, KG.AdverseEvent, position)
    emit.texts_at(node, item, _EVENT_TEXTS)
    emit.enum_at(node, KG.assessmentType, "eventAssessment", item, "assessmentType")
    for stats in item.objs("stats"):
        cell = _per_group(emit, node, KG.count, prefix, stats, KG.EventCount, groups)
        for api_field, predicate in _EVENT_COUNTS:
            emit.integer(cell, predicate, stats.integer(api_field))


def _more_info(emit: Emitter, module: RecordNode) -> None:
    if not module.data:
        return
    node = emit.part(emit.trial, KG.moreInfo, "results/more-info", KG.MoreInfo)
    emit.text(node, KG.limitationsAndCaveats, module.obj("limitationsAndCaveats").text("description"))
    agreement = module.obj("certainAgreement")
    emit.flag(node, KG.piSponsorEmployee, agreement.flag("piSponsorEmployee"))
    emit.flag(node, KG.restrictiveAgreement, agreement.flag("restrictiveAgreement"))
    emit.enum_at(node, KG.restrictionType, "agreementRestrictionType", agreement, "restrictionType")
    emit.text(node, KG.agreementDetails, agreement.text("otherDetails"))
    _point_of_contact(emit, node, module.obj("pointOfContact"))


def _point_of_contact(emit: Emitter, more_info: NamedNode, contact: RecordNode) -> None:
    """Who answers questions about the results; email and phone only when contacts are kept."""
    if not contact.data:
        return
    node = emit.part(more_info, KG.pointOfContact, "results/point-of-contact", KG.Contact)
    emit.text(node, SCHEMA.jobTitle, contact.text("title"))
    emit.text(node, KG.affiliation, contact.text("organization"))
    if emit.include_contacts:
        emit.texts_at(node, contact, _CONTACT_TEXTS)
