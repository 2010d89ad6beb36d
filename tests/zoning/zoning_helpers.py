"""Shared checks of the zoning tests."""

import networkx as nx


def check_division(units, adjacency, assignment, p=None, *, code="code"):
    """Independent validity check: every unit once, p zones, each zone connected (networkx
    on the adjacency edges) and holding its centre."""
    codes = list(units[code].astype(str))
    assert sorted(assignment.index) == sorted(codes), "every unit exactly once"
    assert assignment.index.is_unique
    g = nx.Graph()
    g.add_nodes_from(codes)
    g.add_edges_from(zip(adjacency.edges["code_i"], adjacency.edges["code_j"]))
    centres = set(assignment.to_numpy())
    if p is not None:
        assert len(centres) == p
    for c in centres:
        members = list(assignment.index[assignment.to_numpy() == c])
        assert c in members, f"centre {c} is not in its zone"
        assert nx.is_connected(g.subgraph(members)), f"zone of {c} is not contiguous"
    return centres
