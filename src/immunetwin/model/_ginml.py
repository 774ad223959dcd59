"""Read GINsim's zipped GINML (``.zginml``) regulatory graphs into a :class:`LogicalModelSpec`.

Both ways GINsim stores a node's logic are read:

* logical parameters (GINML 2.1): ``<parameter idActiveInteractions="A:B C:B" val="k"/>``
  gives level ``k`` when exactly those incoming interactions are active (an interaction is
  active when its source level lies in ``[minvalue, maxvalue]``);
* logical functions (GINML 2.2): ``<value val="k"><exp str="A:2 & !C"/></value>``, where
  ``A`` means ``A >= 1`` and ``A:2`` means ``A >= 2``.

When several hold, the highest level wins (GINsim's rule); when none holds the node takes its
base value (0). A node marked ``input="true"`` keeps its level (an input of the spec); a node
without parameters or functions and not marked input is constant at its base value, as in
GINsim. Layout, annotations, initial states and mutants stored in the archive are not read.
"""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
import zipfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import ModelError, SBMLError
from ._logical_expr import QCmp, QConst, QExpr, QLogic, QRef, condition_refs, parse_condition
from ._logical_spec import (
    FunctionTerm,
    LogicalModelSpec,
    QualSpecies,
    Transition,
    TransitionInput,
    TransitionOutput,
)

__all__ = ["from_ginml"]


@dataclass(frozen=True, slots=True)
class _Edge:
    id: str
    source: str
    low: int
    high: int
    sign: str


def _read_xml(path: Path) -> ET.Element:
    if not path.is_file():
        raise SBMLError(f"GINML file not found: {path}", source=str(path))
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as zf:
                data = zf.read("GINsim-data/regulatoryGraph.ginml")
        else:
            data = path.read_bytes()
        return ET.fromstring(data)
    except (KeyError, ET.ParseError, zipfile.BadZipFile) as exc:
        raise SBMLError(f"not a readable GINML regulatory graph: {exc}", source=str(path)) from None


def _edge_condition(e: _Edge, top: int) -> QExpr:
    parts: list[QExpr] = []
    if e.low > 0:
        parts.append(QCmp("geq", QRef(e.source), QConst(e.low)))
    if e.high < top:
        parts.append(QCmp("leq", QRef(e.source), QConst(e.high)))
    if not parts:
        return QConst(1, boolean=True)
    return parts[0] if len(parts) == 1 else QLogic("and", tuple(parts))


def _parameter_condition(active: set[str], edges: list[_Edge], tops: dict[str, int]) -> QExpr:
    parts = []
    for e in edges:
        cond = _edge_condition(e, tops[e.source])
        parts.append(cond if e.id in active else QLogic("not", (cond,)))
    if not parts:
        return QConst(1, boolean=True)
    return parts[0] if len(parts) == 1 else QLogic("and", tuple(parts))


_BARE = re.compile(r"\b([A-Za-z_][A-Za-z0-9_]*)\b(?!:)")


def _resolve(expr: QExpr, edges: list[_Edge], tops: dict[str, int]) -> QExpr:
    """GINsim's reading of regulator references in a function of node B.

    ``A`` means *some interaction from A to B is active*: ``A >=`` its lowest threshold.
    ``A:k`` means *the interaction from A with threshold k is active*: A's level lies in that
    interaction's interval (up to the next threshold minus one); without such an interaction
    it means ``A >= k``. Bare names reach here as ``A >= 0`` (see :func:`_parse`).
    """
    if isinstance(expr, QLogic):
        return QLogic(expr.op, tuple(_resolve(a, edges, tops) for a in expr.args))
    if isinstance(expr, QCmp) and isinstance(expr.left, QRef) and isinstance(expr.right, QConst):
        src, k = expr.left.name, expr.right.value
        mine = sorted((e for e in edges if e.source == src), key=lambda e: e.low)
        if k == 0:
            return QCmp("geq", QRef(src), QConst(mine[0].low if mine else 1))
        match = [e for e in mine if e.low == k]
        if match:
            return _edge_condition(match[0], tops[src])
    return expr


def _parse(text: str) -> QExpr:
    """Parse a GINsim function, marking bare names as ``A:0`` so :func:`_resolve` can tell them apart."""
    return parse_condition(_BARE.sub(lambda m: f"{m.group(1)}:0", text))


def _node_terms(
    node: ET.Element, edges: list[_Edge], tops: dict[str, int], where: str
) -> dict[int, list[QExpr]]:
    by_level: dict[int, list[QExpr]] = {}
    known = {e.id for e in edges}
    for p in node.findall("parameter"):
        active = set(p.get("idActiveInteractions", "").split())
        if not active <= known:
            raise ModelError(
                f"{where}: parameter names unknown interactions {sorted(active - known)}"
            )
        by_level.setdefault(int(p.get("val", "1")), []).append(
            _parameter_condition(active, edges, tops)
        )
    for v in node.findall("value"):
        for exp in v.findall("exp"):
            text = exp.get("str", "").strip()
            if text:
                cond = _resolve(_parse(text), edges, tops)
                by_level.setdefault(int(v.get("val", "1")), []).append(cond)
    return by_level


def from_ginml(source: str | os.PathLike[str]) -> LogicalModelSpec:
    """Read a GINsim ``.zginml`` archive (or a bare ``.ginml`` file).

    Raises
    ------
    SBMLError
        The file is missing or not a GINML regulatory graph (names the file).
    ModelError
        A node's logic names an unknown interaction or regulator (names the node).
    """
    path = Path(os.fspath(source))
    root = _read_xml(path)
    graph = root.find("graph")
    if graph is None:
        raise SBMLError("no <graph> element in the GINML file", source=str(path))
    nodes = graph.findall("node")
    tops = {n.get("id", ""): int(n.get("maxvalue", "1")) for n in nodes}
    incoming: dict[str, list[_Edge]] = {nid: [] for nid in tops}
    for e in graph.findall("edge"):
        src, dst = e.get("from", ""), e.get("to", "")
        if src not in tops or dst not in tops:
            raise ModelError(f"GINML {path.name}: edge '{e.get('id')}' joins unknown nodes")
        eid = e.get("id", f"{src}:{dst}")
        effects = e.get("effects")
        if effects:  # one element, several thresholds: "1:negative 2:positive"
            pairs = sorted((int(k), sg) for k, _, sg in (x.partition(":") for x in effects.split()))
            for j, (low, sign) in enumerate(pairs):
                top = pairs[j + 1][0] - 1 if j + 1 < len(pairs) else tops[src]
                incoming[dst].append(_Edge(f"{eid}:{low}", src, low, top, sign))
            continue
        high = e.get("maxvalue") or "max"
        incoming[dst].append(
            _Edge(
                id=eid,
                source=src,
                low=int(e.get("minvalue", "1")),
                high=tops[src] if high in ("max", "-1") else int(high),
                sign=e.get("sign", "unknown"),
            )
        )
    species = []
    transitions = []
    for n in nodes:
        nid = n.get("id", "")
        species.append(
            QualSpecies(id=nid, name=n.get("name", ""), compartment="cell", max_level=tops[nid])
        )
        if n.get("input") == "true":
            continue
        where = f"GINML {path.name}, node '{nid}'"
        by_level = _node_terms(n, incoming[nid], tops, where)
        terms = tuple(
            FunctionTerm(
                result=k,
                condition=conds[0] if len(conds) == 1 else QLogic("or", tuple(conds)),
            )
            for k, conds in sorted(by_level.items(), reverse=True)
        )
        used = list(dict.fromkeys(r for t in terms for r in condition_refs(t.condition)))
        signs = {e.source: e.sign for e in incoming[nid]}
        for r in used:
            if r not in tops:
                raise ModelError(f"{where}: function uses unknown node '{r}'")
        transitions.append(
            Transition(
                id=f"tr_{nid}",
                inputs=tuple(
                    TransitionInput(species=r, id=f"tr_{nid}_in_{r}", sign=signs.get(r, "unknown"))
                    for r in used
                ),
                outputs=(TransitionOutput(species=nid, id=f"tr_{nid}_out"),),
                terms=terms,
                default=int(n.get("basevalue", "0")),
            )
        )
    return LogicalModelSpec(
        id=graph.get("id", path.stem),
        name=graph.get("id", path.stem),
        species=tuple(species),
        transitions=tuple(transitions),
        compartments=("cell",),
        metadata=(("source_format", "GINML"),),
    )
